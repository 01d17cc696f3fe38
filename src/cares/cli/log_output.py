"""How the command line shows the library's log messages: one line each on stderr, in its own voice."""

from __future__ import annotations

import logging
import sys
from typing import Any

LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_HANDLER: logging.Handler | None = None


class _LogFormat(logging.Formatter):
    """Library messages in the CLI's own voice: `cares: note: ...`, `cares: warning: ...`."""

    KINDS = {"DEBUG": "debug", "INFO": "note", "WARNING": "warning", "ERROR": "error", "CRITICAL": "error"}

    def format(self, record: logging.LogRecord) -> str:
        kind = self.KINDS.get(record.levelname, record.levelname.lower())
        where = f"{record.name}: " if record.levelno <= logging.DEBUG else ""
        text = f"cares: {kind}: {where}{record.getMessage()}"
        if record.exc_info and record.levelno <= logging.DEBUG:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a message comes: main() may run again in one process
    with stderr replaced (tests, programs embedding the CLI)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def configure_logging(level: str) -> None:
    """Messages of the `cares` loggers at `level` and above go to stderr, one line each."""
    global _LOG_HANDLER
    logger = logging.getLogger("cares")
    if _LOG_HANDLER is None:
        _LOG_HANDLER = _StderrHandler()
        _LOG_HANDLER.setFormatter(_LogFormat())
        logger.addHandler(_LOG_HANDLER)
    logger.setLevel(level.upper())
