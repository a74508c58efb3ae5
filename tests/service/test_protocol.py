"""Slow clients: a connection whose request headers do not arrive in time is closed; normal ones are served."""

from __future__ import annotations

import socket
import threading
import time

import pytest

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("httptools")

from archscore.service.protocol import HeaderDeadlineProtocol  # noqa: E402


async def hello(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Quick(HeaderDeadlineProtocol):
    header_seconds = 0.5


def test_a_client_trickling_its_headers_is_disconnected_and_others_are_served():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(hello, host="127.0.0.1", port=port, http=Quick, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        slow.settimeout(5)
        t0 = time.time()
        assert slow.recv(100) == b""  # closed by the server ...
        assert 0.3 < time.time() - t0 < 3  # ... at its deadline, not at once and not never
        slow.close()
        fast = socket.create_connection(("127.0.0.1", port))
        fast.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        fast.settimeout(5)
        assert fast.recv(200).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # a kept-alive connection serves its next request
        fast.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert fast.recv(200).startswith(b"HTTP/1.1 200")
        fast.close()
    finally:
        server.should_exit = True
        thread.join(10)


def test_every_library_logs_one_json_object_per_line(capsys):
    import json
    import logging

    from archscore.service.logs import configure

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure("info")
        logging.getLogger("python_multipart.multipart").warning("Skipping data after last boundary")
        logging.getLogger("uvicorn.error").error("Invalid HTTP request received.")
        logging.getLogger("archscore.service").info("serving")
        lines = capsys.readouterr().err.strip().splitlines()
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert [r["logger"] for r in records] == ["python_multipart.multipart", "uvicorn.error", "archscore.service"]
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("archscore.service").handlers = []
        logging.getLogger("archscore.service").propagate = True
