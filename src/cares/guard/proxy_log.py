"""The guarding proxy's access log: one JSON object a line, one line a request.

Prompts and completions may hold patient data, so by default a line records what happened to a
request (sizes, timings, the guard's decision, the upstream status) and never what it said.
Bodies are written only when the operator opts in with --log-bodies. Tokens and keys are never
part of a line: the Authorization header is not among the recorded fields.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from cares.errors import ConfigError

MAX_LOGGED_MODEL_CHARS = 200
MAX_LOGGED_BODY_BYTES = 1024 * 1024


@dataclass
class AccessRecord:
    """What one request did; the handler fills in the parts it learns as it goes."""

    request_id: str
    client: str | None
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    status: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    model: str | None = None
    stream: bool | None = None
    detector_score: float | None = None
    flagged: bool | None = None
    reminder_applied: bool | None = None
    guard_ms: float | None = None
    upstream_status: int | None = None
    error: str | None = None  # the error code sent to the client, when there was one
    request_messages: Any = None  # only with --log-bodies
    response_body: str | None = None  # only with --log-bodies

    def set_model(self, model: Any) -> None:
        self.model = model[:MAX_LOGGED_MODEL_CHARS] if isinstance(model, str) else None

    def line(self, *, with_bodies: bool) -> dict[str, Any]:
        data = asdict(self)
        started = data.pop("started")
        messages, body = data.pop("request_messages"), data.pop("response_body")
        line: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            **data,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if line["detector_score"] is not None:
            line["detector_score"] = round(line["detector_score"], 6)
        if with_bodies:
            line["request_messages"] = messages
            line["response_body"] = body
        return line


class AccessLog:
    """Writes access lines to stderr or to a file created readable by its owner only."""

    def __init__(self, path: Path | None = None, *, log_bodies: bool = False) -> None:
        self.path = path
        self.log_bodies = log_bodies
        self._stream: TextIO
        self._owned = False
        if path is None:
            self._stream = sys.stderr
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ConfigError(f"--access-log {path}: cannot open for writing: {exc.strerror}") from None
        self._stream = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self._owned = True

    def write(self, record: AccessRecord) -> None:
        self.write_line(record.line(with_bodies=self.log_bodies))

    def write_line(self, line: dict[str, Any]) -> None:
        self._stream.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()
            self._owned = False


class BodyCapture:
    """Keeps the first MAX_LOGGED_BODY_BYTES of a response for --log-bodies; a no-op otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> None:
        if self.enabled and self._size < MAX_LOGGED_BODY_BYTES:
            piece = data[: MAX_LOGGED_BODY_BYTES - self._size]
            self._parts.append(piece)
            self._size += len(piece)

    def text(self) -> str | None:
        return b"".join(self._parts).decode("utf-8", "replace") if self.enabled else None


class _UnparsedRequests(logging.Handler):
    """aiohttp's reports of requests it could not parse, as access records without their text.

    aiohttp logs such a request with a traceback whose exception quotes the bytes it choked on: for
    the rest of a body sent with a short Content-Length, the prompt itself. Here only the type of
    the error is kept."""

    def __init__(self, log: AccessLog) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return  # aiohttp's debug notes (a client that went away) are not requests
        from aiohttp.http_exceptions import HttpProcessingError

        client = record.args[0] if isinstance(record.args, tuple) and record.args else None
        access = AccessRecord(uuid.uuid4().hex[:16], client if isinstance(client, str) else None, "-", "-")
        if isinstance(exc, HttpProcessingError):
            access.status, access.error = 400, f"malformed_http:{type(exc).__name__}"
        else:
            access.status, access.error = 500, f"internal_error:{type(exc).__name__}"
        try:
            self.log.write(access)
        except (OSError, ValueError):
            pass  # a log that cannot be written must not break the server


def server_logger(log: AccessLog) -> logging.Logger:
    """A logger for aiohttp's server that writes nothing but access records to `log`."""
    logger = logging.Logger("cares.guard.proxy.http", logging.DEBUG)  # not registered: no root handlers
    logger.addHandler(_UnparsedRequests(log))
    return logger
