"""Hostile inputs against every front end: the CLI, the HTTP service and the MLflow model.

Every case of :mod:`archscore.testing.hostile` (each at most 1 MB) is sent

* to ``archscore score FILE --json`` (a subprocess),
* to a running ``archscore serve --workers 2`` as the body of ``POST /v1/score``,
* to the MLflow model (``ArchscoreModel.predict``, in this process) as ``onnx_base64``,

and each answer is recorded with its wall time, the peak RSS of the process tree doing the work
(sampled every 20 ms) and its outcome: ``scored`` (a result) or ``refused`` (exit 2 / a 4xx / a
one-line error naming the problem), or a failure (a traceback, a 5xx, a crash, a hang). After the
service cases, ``/readyz`` must answer and the service's worker processes must be the ones it
started with (none crashed or was killed).

Pass: every case scored or refused as expected, no traceback, every answer within the parse limit
(in the CLI: plus twice the time the same command takes on a bundled example, its start-up varying
with the machine's load), every peak RSS under 1 GB.

Run: ``python benchmarks/hostile.py`` (``--quick``: the reduced CI set); results go to
``benchmarks/results/hostile.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common
import psutil
from service_load import running_server

from archscore.testing.hostile import CASES, QUICK, cases
from archscore.testing.processes import free_port

RESULTS = Path(__file__).resolve().parent / "results"
PARSE_SECONDS = 10.0
MAX_RSS_MB = 1024.0


class PeakRSS:
    """Peak resident memory of a process and its descendants (or of its descendants only), sampled in a
    thread (MB)."""

    def __init__(self, pid: int, descendants_only: bool = False) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self.descendants_only = descendants_only
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = root.children(recursive=True) + ([] if self.descendants_only else [root])
                self.peak = max(self.peak, max((_rss(p) for p in procs), default=0.0))
            except psutil.Error:
                pass
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _rss(p: psutil.Process) -> float:
    try:
        return p.memory_info().rss / 2**20
    except psutil.Error:
        return 0.0


def run_cli(name: str, raw: bytes, folder: Path) -> dict:
    path = folder / f"{name}.onnx"
    path.write_bytes(raw)
    cmd = [sys.executable, "-m", "archscore.cli", "score", str(path), "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakRSS(proc.pid) as rss:
        try:
            stdout, stderr = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    # the CLI's own start (imports, the model) is not parsing: judged with CLI_SLACK_SECONDS
    if "Traceback" in stderr or proc.returncode not in (0, 2):
        outcome = "failed"
    elif proc.returncode == 2 and "error:" in stderr:
        outcome = "refused"
    else:
        outcome = "scored" if json.loads(stdout)["results"] else "failed"
    message = (stderr.strip().splitlines() or [""])[-1][:300]
    return {"outcome": outcome, "exit": proc.returncode, "seconds": round(seconds, 2), "peak_rss_mb": round(rss.peak),
            "message": message}  # fmt: skip


def run_service(name: str, raw: bytes, port: int, server_pid: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    with PeakRSS(server_pid) as rss:
        try:
            conn.request("POST", f"/v1/score?name={name}", raw, {"Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            status, body = response.status, response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            status, body = 0, f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - t0
    if status == 200:
        outcome, body = "scored", json.dumps({"detail": "scored"})
    elif 400 <= status < 500 and "Traceback" not in body:
        outcome = "refused"
    else:
        outcome = "failed"
    try:
        message = json.loads(body).get("detail", body)
    except ValueError:
        message = body
    return {"outcome": outcome, "status": status, "seconds": round(seconds, 2), "peak_rss_mb": round(rss.peak),
            "message": str(message)[:300]}  # fmt: skip


def run_pyfunc(name: str, raw: bytes, model) -> dict:
    import pandas as pd
    from mlflow.exceptions import MlflowException

    frame = pd.DataFrame([{"onnx_base64": base64.b64encode(raw).decode()}])
    t0 = time.perf_counter()
    # the parse runs in the model's parser processes: their memory, not the host's (a test runner's
    # process holds whatever it loaded before)
    with PeakRSS(os.getpid(), descendants_only=True) as rss:
        try:
            out = model.predict(None, frame)
            outcome, message = ("scored" if len(out) == 1 else "failed"), ""
        except MlflowException as e:
            outcome, message = ("refused" if "\n" not in e.message else "failed"), e.message
        except Exception as e:  # anything else escaping the model is a failure
            outcome, message = "failed", f"{type(e).__name__}: {e}"
    return {"outcome": outcome, "seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(rss.peak),
            "message": message[:300]}  # fmt: skip


def worker_pids(server_pid: int) -> dict[int, str]:
    """The service's own processes (uvicorn's workers, the supervisor's direct children) → command line;
    parser processes are the workers' children."""
    return {p.pid: " ".join(p.cmdline()) for p in psutil.Process(server_pid).children()}


def judge(case_valid: bool, r: dict, limit: float) -> bool:
    expected = "scored" if case_valid else r["outcome"] in ("scored", "refused")
    ok_outcome = r["outcome"] == "scored" if case_valid else expected
    return bool(ok_outcome and r["seconds"] <= limit and r["peak_rss_mb"] <= MAX_RSS_MB)


def markdown(result: dict) -> str:
    lines = [
        "Hostile inputs (each ≤ 1 MB) against the CLI, the service (2 workers) and the MLflow model; "
        f"parse limit {result['parse_seconds']:g} s, memory bound {MAX_RSS_MB:.0f} MB",
        "",
        "| case | bytes | CLI | s | MB | service | s | MB | pyfunc | s | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["cases"].items():
        c, s, p = r["cli"], r["service"], r["pyfunc"]
        lines.append(
            f"| {name} | {r['bytes']:,} | {c['outcome']} | {c['seconds']} | {c['peak_rss_mb']} | "
            f"{s['outcome']} {s['status']} | {s['seconds']} | {s['peak_rss_mb']} | {p['outcome']} | {p['seconds']} | "
            f"{'yes' if r['pass'] else '**no**'} |"
        )
    after = f"/readyz {result['readyz']}, workers unchanged: {result['workers_unchanged']}"
    lines += ["", f"Service after the cases: {after}", f"All pass: {result['all_pass']}"]
    lines += ["", "Messages (service):", ""]
    lines += [f"- `{name}`: {r['service']['message']}" for name, r in result["cases"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the reduced CI set of cases")
    parser.add_argument("--out", type=Path, default=RESULTS / "hostile.json")
    args = parser.parse_args(argv)
    from archscore.models import DEFAULT_MODEL
    from archscore.models.mlflow_model import ArchscoreModel

    data = cases(QUICK if args.quick else None)
    valid = {c.name: c.valid for c in CASES}
    model = ArchscoreModel()
    model.load_context(type("Context", (), {"artifacts": {"model": str(DEFAULT_MODEL)}})())
    port = free_port()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with running_server(port, 2, folder / "serve.log") as server:
            before = worker_pids(server.pid)
            from archscore.examples import example_path

            startup = run_cli("baseline", example_path("resnet_small").read_bytes(), folder)["seconds"]
            for name, raw in data.items():
                r = {"bytes": len(raw), "valid": valid[name]}
                r["cli"] = run_cli(name, raw, folder)
                r["service"] = run_service(name, raw, port, server.pid)
                r["pyfunc"] = run_pyfunc(name, raw, model)
                r["pass"] = (
                    judge(valid[name], r["cli"], PARSE_SECONDS + 2 * startup)
                    and judge(valid[name], r["service"], PARSE_SECONDS + 1)
                    and judge(valid[name], r["pyfunc"], PARSE_SECONDS + 1)
                )
                results[name] = r
                print(name, json.dumps({k: v for k, v in r.items() if k != "bytes"}), flush=True)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/readyz")
            readyz = conn.getresponse().status
            after = worker_pids(server.pid)
            unchanged = after == before
            if not unchanged:
                print("service processes before:", before, "after:", after)
    result = {
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "parse_seconds": PARSE_SECONDS,
        "cli_startup_seconds": startup,
        "cases": results,
        "readyz": readyz,
        "workers_unchanged": unchanged,
        "all_pass": all(r["pass"] for r in results.values()) and readyz == 200 and unchanged,
    }
    _common.write_results(args.out, result, markdown, None)
    print(markdown(result))
    return 0 if result["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
