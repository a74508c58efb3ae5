"""Load on the HTTP service: concurrent clients on localhost uploading ONNX files to ``POST /v1/score``.

Starts ``archscore serve`` (the shipped default model, ``--workers`` processes) as a real server and
drives it from client threads in this process, each with its own keep-alive connection, every
request one multipart upload of one architecture:

* ``nb201``: an NAS-Bench-201 network (CIFAR-10 skeleton, the ResNet-like cell) exported *with* its
  weights, as a user's file would be (5.2 MB);
* ``resnet50``: ResNet-50 at 224×224 exported by ``torch.onnx.export`` without its weights
  (``export_params=False``: the structure is what archscore reads; with weights the file is 100 MB,
  beyond the service's default request limit).

Reported per scenario and client count: requests, errors (any status but 200), throughput, and
latency p50/p90/p99/max as the client saw it. The clients share the 2 cores with the server, so
these are conservative. Target (issue 7): p99 under 50 ms for one NB201-sized architecture, no error.

With ``--hostile``, each scenario is also run at 16 clients with two hostile uploads every 8 s
beside the valid load (cases of :mod:`archscore.testing.hostile` that pass the static limits and
cost seconds of parsing each) and ``/readyz`` polled every second: reported are the valid
requests' errors and latency against the same run without them, the readiness failures and what
the hostile uploads got. Target (issue 20): 0 valid requests fail, /readyz always 200, valid p99
at most 2× the clean run's.

Run: ``python benchmarks/service_load.py`` (``--quick`` for the reduced CI version); results go to
``benchmarks/results/service_load.json``, ``.md`` and ``.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import _common
import numpy as np

from archscore.testing.processes import free_port

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_P99_MS = 50.0
DISTINCT = 5_000  # distinct NB201 cells (~930k nodes): more than the parse caches of the workers hold


def payloads() -> dict[str, bytes]:
    from archscore.examples import NB201_CELL
    from archscore.spaces import get

    nb201 = get("nb201")
    out = {
        "nb201": nb201.to_onnx(NB201_CELL, weights=np.random.default_rng(0)).SerializeToString(),
        "nb201 (no weights)": nb201.to_onnx(NB201_CELL).SerializeToString(),
    }
    # a different cell in every request: each upload is parsed (the service keeps recent graphs by
    # their bytes, so one file sent again and again measures scoring alone)
    cells = nb201.sample(DISTINCT, seed=0)
    out["nb201 new cell each request (no weights)"] = [nb201.to_onnx(c).SerializeToString() for c in cells]
    try:
        from archscore.testing.zoo import build, export

        module, x = build("resnet50")
        out["resnet50"] = export(module, x, "legacy_no_params")
    except ImportError:
        print("torch is not installed: no ResNet-50 scenario")
    return out


def multipart(name: str, raw: bytes) -> tuple[bytes, str]:
    """One file as a multipart form (the browser/curl -F way)."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}.onnx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    return head + raw + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def start_server(port: int, workers: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    cmd = [sys.executable, "-m", "archscore.cli", "serve", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]  # fmt: skip
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError("server did not become ready")


@contextlib.contextmanager
def running_server(port: int, workers: int, log: Path):
    """``archscore serve`` on ``port`` until the block ends (then stopped with its process group)."""
    server = start_server(port, workers, log)
    try:
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def drive(port: int, uploads: list[tuple[bytes, str]], requests: int, clients: int) -> dict:
    """``requests`` uploads (``(body, content type)``, taken in turn) spread over ``clients`` threads;
    latencies in ms and the error count."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    per_client = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]

    def connect() -> http.client.HTTPConnection:
        # TCP_NODELAY, as curl, urllib3 and httpx set it: without it, http.client sends a large body
        # apart from its headers and Nagle's algorithm waits for the server's delayed ACK (~40 ms).
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def client(i: int) -> None:
        conn = connect()
        for j in range(per_client[i]):
            body, content_type = uploads[(i + j * clients) % len(uploads)]
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/score", body, {"Content-Type": content_type})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = connect()
            latencies[i].append(1e3 * (time.perf_counter() - t0))
            errors[i] += not ok

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    lat = np.concatenate([np.asarray(x) for x in latencies])
    return {
        "requests": int(lat.size),
        "clients": clients,
        "errors": int(sum(errors)),
        "seconds": round(seconds, 2),
        "requests_per_second": round(lat.size / seconds, 1),
        **{f"p{q}_ms": round(float(np.percentile(lat, q)), 2) for q in (50, 90, 99)},
        "max_ms": round(float(lat.max()), 2),
    }


HOSTILE_CASES = ("initializer_flood", "long_chain", "rank_by_constant", "many_outputs")
"""Hostile cases that pass the static limits: each costs seconds of parsing (or of being stopped)."""


def under_attack(port: int, uploads: list[tuple[bytes, str]], requests: int, clients: int) -> dict:
    """``drive`` with two hostile uploads every 8 s and /readyz polled every second beside it."""
    from archscore.testing.hostile import cases

    hostile = list(cases(HOSTILE_CASES).items())
    stop = threading.Event()
    answers: list[int] = []
    polls: list[int] = []

    def send(raw: bytes) -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/v1/score", raw, {"Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            response.read()
            answers.append(response.status)
        except (OSError, http.client.HTTPException):
            answers.append(0)

    def attacker() -> None:
        k = 0
        while not stop.wait(0 if k == 0 else 8.0):
            for _ in range(2):
                threading.Thread(target=send, args=(hostile[k % len(hostile)][1],), daemon=True).start()
                k += 1

    def poller() -> None:
        while not stop.wait(1.0):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/readyz")
                response = conn.getresponse()
                response.read()
                polls.append(response.status)
            except (OSError, http.client.HTTPException):
                polls.append(0)

    helpers = [threading.Thread(target=attacker, daemon=True), threading.Thread(target=poller, daemon=True)]
    for t in helpers:
        t.start()
    try:
        run = drive(port, uploads, requests, clients)
    finally:
        stop.set()
        for t in helpers:
            t.join(timeout=70)
    run.update(hostile_sent=len(answers), hostile_statuses=sorted(set(answers)),
               readyz_polls=len(polls), readyz_failures=sum(s != 200 for s in polls))  # fmt: skip
    return run


def markdown(result: dict) -> str:
    lines = [
        f"Service under load: `archscore serve --workers {result['workers']}`, the default model, one architecture per "
        f"request ({result['upload']} upload), clients on the same 2 cores",
        "",
        "| upload | size | clients | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in result["scenarios"].items():
        for r in runs:
            lines.append(
                f"| {name} | {result['sizes_mb'][name]:.2f} MB | {r['clients']} | {r['requests']:,} | {r['errors']} | "
                f"{r['requests_per_second']:.0f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{r['max_ms']:.0f} |"
            )
    if result.get("hostile"):
        lines += [
            "",
            "With two hostile uploads every 8 s beside the valid load (16 clients):",
            "",
            "| upload | valid requests | errors | p99 ms clean | p99 ms under attack | ratio | hostile sent (statuses) "
            "| /readyz failures |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, h in result["hostile"].items():
            lines.append(
                f"| {name} | {h['attack']['requests']:,} | {h['attack']['errors']} | {h['clean']['p99_ms']:.1f} | "
                f"{h['attack']['p99_ms']:.1f} | {h['attack']['p99_ms'] / h['clean']['p99_ms']:.2f} | "
                f"{h['attack']['hostile_sent']} ({', '.join(map(str, h['attack']['hostile_statuses']))}) | "
                f"{h['attack']['readyz_failures']} of {h['attack']['readyz_polls']} |"
            )
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in result["scenarios"].items():
        ax.plot([r["clients"] for r in runs], [r["p99_ms"] for r in runs], "o-", label=f"{name} p99")
        ax.plot([r["clients"] for r in runs], [r["p50_ms"] for r in runs], "x--", label=f"{name} p50")
    ax.axhline(TARGET_P99_MS, color="k", lw=0.8, ls=":", label="target p99 (NB201)")
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title("archscore serve: latency under load (2 cores)")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred requests (the CI version)")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per scenario at --clients")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sweep", default="1,16", help="other client counts, --sweep-requests each")
    parser.add_argument("--sweep-requests", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--raw", action="store_true", help="send each file as the body, not as a multipart form")
    parser.add_argument("--hostile", action="store_true", help="also run each scenario under hostile uploads")
    parser.add_argument("--hostile-requests", type=int, default=2_000, help="valid requests of each hostile run")
    parser.add_argument("--only", default=None, help="comma-separated scenarios (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS / "service_load.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.sweep, args.sweep_requests = 200, "", 0

    bodies = payloads()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, running_server(port, args.workers, Path(tmp) / "serve.log"):
        scenarios: dict[str, list[dict]] = {}
        attacks: dict[str, dict] = {}
        wanted = set(args.only.split(",")) if args.only else set(bodies)
        for name, raw in bodies.items():
            if name not in wanted:
                continue
            files = raw if isinstance(raw, list) else [raw]
            uploads = [(f, "application/octet-stream") if args.raw else multipart(name, f) for f in files]
            drive(port, uploads[-20:], 20, args.workers)  # warm every worker up (not on the measured files)
            runs = [drive(port, uploads, args.requests, args.clients)]
            for c in (int(c) for c in args.sweep.split(",") if c):
                runs.append(drive(port, uploads, args.sweep_requests, c))
            scenarios[name] = sorted(runs, key=lambda r: r["clients"])
            for r in scenarios[name]:
                print(name, json.dumps(r), flush=True)
            if args.hostile:
                clean = drive(port, uploads, args.hostile_requests, 16)
                attack = under_attack(port, uploads, args.hostile_requests, 16)
                attacks[name] = {"clean": clean, "attack": attack}
                print(name, "hostile", json.dumps(attacks[name]), flush=True)
    result = {
        "machine": _common.machine_info(),
        "versions": _common.versions(),
        "workers": args.workers,
        "upload": "application/octet-stream" if args.raw else "multipart/form-data",
        "sizes_mb": {k: len(v[0] if isinstance(v, list) else v) / 1e6 for k, v in bodies.items() if k in scenarios},
        "target_p99_ms_nb201": TARGET_P99_MS,
        "scenarios": scenarios,
        "hostile": attacks,
    }
    _common.write_results(args.out, result, markdown, plot)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
