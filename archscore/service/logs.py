"""Structured logs: one JSON object per line, with the request id when there is one."""

from __future__ import annotations

import json
import logging
import sys
import time


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(time.time(), 3), "level": record.levelname.lower(), "logger": record.name}
        message = record.getMessage()
        try:
            fields = json.loads(message) if message.startswith("{") else None
        except ValueError:
            fields = None
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["msg"] = message
        if getattr(record, "request_id", None):
            out["request_id"] = record.request_id
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure(level: str = "info") -> None:
    """Send every log of a service process to stderr as JSON lines: archscore's at ``level``, the
    libraries' (uvicorn, python-multipart, MLflow …) at warning and above, one object per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "python_multipart", "multipart"):
        library = logging.getLogger(name)
        library.handlers = []
        library.propagate = True
    logger = logging.getLogger("archscore.service")  # its children (access, models) log through it
    logger.handlers = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
