"""Real processes for tests and benchmarks: free ports, servers started in their own process group
with output to a log file, waiting for HTTP, and stopping a server with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_with(**extra: str | None) -> dict[str, str]:
    """This environment, with the interpreter's own bin folder first on PATH (as an activated venv has),
    and ``extra`` set (a value of ``None`` removes the variable)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def start(cmd: list[str] | str, log: Path, cwd: Path | None = None, **env: str | None) -> subprocess.Popen:
    """A server process writing to ``log`` (a file: a pipe nobody reads would fill and stall it).
    A string is run by the shell (a documented command line as a user types it)."""
    with log.open("w") as f:
        return subprocess.Popen(
            cmd, stdout=f, stderr=subprocess.STDOUT, env=env_with(**env), cwd=cwd, shell=isinstance(cmd, str),
            start_new_session=True,
        )  # fmt: skip


def stop(proc: subprocess.Popen) -> None:
    """Stop a server and every process it started (MLflow's server runs workers and job consumers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Wait until ``url`` answers (any 2xx); an error naming the log's tail if the process exits first."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:g} s:\n{log.read_text()[-3000:]}")
