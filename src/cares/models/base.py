"""The one async protocol every model backend implements, and the errors it may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cares.types import Completion, Request


class ModelCallError(Exception):
    """One failed attempt. `retryable` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class FatalModelError(Exception):
    """A failure that will repeat for every item (bad key, unknown model): stop the run, keep what is saved."""


@dataclass(frozen=True)
class ModelOptions:
    """Settings that reach a backend from the command line or the API. The API key is never stored;
    the base URL is part of the model's identity, and `extra` (`--model-arg`, local-model settings
    such as dtype) is kept in the run so that a resume can reuse it."""

    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0
    extra: tuple[tuple[str, Any], ...] = ()


@runtime_checkable
class Model(Protocol):
    """A model backend. `identity()` goes into every response-cache key, so it must name what
    determines the answers (model name, server) and nothing secret (never the API key).

    Optional attributes the engine reads: `runs_locally` (no per-attempt timeout: a request queued
    behind local work has not stalled) and `preferred_concurrency` (requests in flight when
    `--concurrency` is not given)."""

    spec: str

    def identity(self) -> dict[str, Any]: ...

    async def generate(self, request: Request) -> Completion: ...

    async def aclose(self) -> None: ...
