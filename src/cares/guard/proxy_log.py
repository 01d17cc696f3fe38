"""The guarding proxy's access log: one JSON object a line, one line a request.

Prompts and completions may hold patient data, so by default a line records what happened to a
request (sizes, timings, the guard's decision, the upstream status) and never what it said.
Bodies are written only when the operator opts in with --log-bodies. Tokens and keys are never
part of a line: the Authorization header is not among the recorded fields.
"""

from __future__ import annotations

import json
import os
import sys
import time
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
