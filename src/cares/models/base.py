"""The base every model backend subclasses, with the capabilities the engine reads, and the errors it may raise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from cares.checks import http_url, number
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

    exit_code = 1  # the CLI's status for it (docs/design.md, "Errors")


class ServerUnreachableError(FatalModelError):
    """Nothing answers at the server's address (connection refused, host not found) and nothing ever
    has in this process: a wrong URL or a server that is not up, a configuration error. A server
    that has answered before and then refuses is a transient failure, retried instead."""

    exit_code = 2


@dataclass(frozen=True)
class GuardSettings:
    """How a `guard/<model>` wrapper guards: which detector, when the reminder goes in, and the run
    whose stored answers may stand in for requests the guard leaves unchanged. Kept in the run so
    that a resume guards the same way."""

    detector: str | None = None  # None: the bundled default detector
    mode: str | None = None  # flagged (None) | always | never
    threshold: float | None = None  # None: the detector's own
    reuse_from: str | None = None  # run directory of the same model without the guard

    def __post_init__(self) -> None:
        if self.threshold is not None:
            number("GuardSettings.threshold", self.threshold, minimum=0, maximum=1)

    def over(self, stored: GuardSettings) -> GuardSettings:
        """These settings where given, the stored ones elsewhere (a resume with one option changed)."""
        return GuardSettings(
            detector=self.detector if self.detector is not None else stored.detector,
            mode=self.mode if self.mode is not None else stored.mode,
            threshold=self.threshold if self.threshold is not None else stored.threshold,
            reuse_from=self.reuse_from if self.reuse_from is not None else stored.reuse_from,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "mode": self.mode,
            "threshold": self.threshold,
            "reuse_from": self.reuse_from,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuardSettings:
        return cls(
            detector=data.get("detector"),
            mode=data.get("mode"),
            threshold=data.get("threshold"),
            reuse_from=data.get("reuse_from"),
        )


@dataclass(frozen=True)
class ModelOptions:
    """Settings that reach a backend from the command line or the API. The API key and headers are never stored;
    the base URL is part of the model's identity, and `extra` (`--model-arg`, local-model settings
    such as dtype) is kept in the run so that a resume can reuse it."""

    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0
    extra: tuple[tuple[str, Any], ...] = ()
    # Extra HTTP headers for openai/ servers (a gateway's own token): like the key, never stored.
    headers: tuple[tuple[str, str], ...] = ()
    guard: GuardSettings | None = None  # read by `guard/<model>` specs only

    def __post_init__(self) -> None:
        if self.base_url is not None:
            http_url("ModelOptions.base_url", self.base_url)
        number("ModelOptions.timeout_s", self.timeout_s, above=0)


class Model(ABC):
    """The base of every model backend: what each one gives is abstract, and the capabilities the
    engine reads are declared here with their defaults.

    `identity()` goes into every response-cache key, so it must name what determines the answers
    (model name, server) and nothing secret (never the API key)."""

    spec: str
    # No per-attempt timeout when True: a request queued behind local work has not stalled.
    runs_locally: bool = False
    # Requests in flight when `--concurrency` is not given; None: the engine's default.
    preferred_concurrency: int | None = None

    @abstractmethod
    def identity(self) -> dict[str, Any]: ...

    @abstractmethod
    async def generate(self, request: Request) -> Completion: ...

    async def prepare(self) -> None:
        """Heavy one-time setup (loading weights), called only when there is something to ask."""

    async def aclose(self) -> None:
        """Release connections or memory; called once when the run is done."""
