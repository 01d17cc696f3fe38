"""Asking a model for many answers at once: bounded concurrency, timeouts, retries, durable results.

Answers are committed to the run store in small groups, every few milliseconds (GROUP_COMMIT_S)
or every GROUP_MAX answers, whichever comes first, so a crash or a kill costs at most the requests
that were in flight plus one group. The calls run in this process (the local executor) or on Ray
workers (cares.runner.ray_executor); either way only this process writes the store.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cares.checks import number, whole
from cares.errors import CaresError
from cares.models.base import FatalModelError, Model, ModelCallError
from cares.runner.executor import ExecutorOptions, ModelRecipe
from cares.store import RunStore
from cares.store.runstore import GROUP_MAX
from cares.types import Request, Response, ResponseStatus, Usage

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cares.runner.progress import ProgressBar

# How long an answer may wait for its group commit: one transaction per group instead of one per
# answer, and a kill loses at most what arrived in this window (at most GROUP_MAX answers).
GROUP_COMMIT_S = 0.005


@dataclass(frozen=True)
class EngineOptions:
    # None: the model's own preference (a local batched model wants several batches in flight), else 16.
    concurrency: int | None = None
    timeout_s: float = 120.0
    max_attempts: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    progress: bool = True
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)

    def __post_init__(self) -> None:
        if self.concurrency is not None:
            whole("EngineOptions.concurrency", self.concurrency, minimum=1)
        number("EngineOptions.timeout_s", self.timeout_s, above=0)
        whole("EngineOptions.max_attempts", self.max_attempts, minimum=1)
        number("EngineOptions.backoff_base_s", self.backoff_base_s, minimum=0)
        number("EngineOptions.backoff_max_s", self.backoff_max_s, above=0)


@dataclass
class EngineStats:
    requested: int = 0
    answered: int = 0
    failed: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


def backoff_delay(attempt: int, options: EngineOptions, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with full jitter; a server's Retry-After is a floor, never ignored."""
    ceiling = min(options.backoff_max_s, options.backoff_base_s * (2 ** (attempt - 1)))
    delay = rng.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, options.backoff_max_s * 4))
    return delay


async def call_with_retries(
    model: Model, request: Request, options: EngineOptions, rng: random.Random, key: str = ""
) -> tuple[Response | None, str | None, int, float]:
    """Returns (completion-as-response under `key`, or None; last error, attempts, seconds)."""
    started = time.monotonic()
    last_error = "no attempt made"
    # A local model's request may wait behind whole batches; only a remote call can stall.
    timeout = None if model.runs_locally else options.timeout_s
    for attempt in range(1, options.max_attempts + 1):
        try:
            completion = await asyncio.wait_for(model.generate(request), timeout=timeout)
        except FatalModelError:
            raise
        except CaresError as exc:
            # Bad input (a corrupt or unreadable image) fails the same way every time: no retry.
            return None, f"input: {exc}", attempt, time.monotonic() - started
        except asyncio.TimeoutError:
            last_error, retryable, retry_after = f"timed out after {options.timeout_s:g}s", True, None
        except ModelCallError as exc:
            last_error, retryable, retry_after = str(exc), exc.retryable, exc.retry_after
        else:
            response = Response(
                key=key,
                model=model.spec,
                status=ResponseStatus.OK,
                text=completion.text,
                error=None,
                usage=completion.usage,
                attempts=attempt,
                latency_s=time.monotonic() - started,
                finish_reason=completion.finish_reason,
                meta=completion.meta,
            )
            return response, None, attempt, time.monotonic() - started
        if not retryable or attempt == options.max_attempts:
            return None, last_error, attempt, time.monotonic() - started
        await asyncio.sleep(backoff_delay(attempt, options, retry_after, rng))
    return None, last_error, options.max_attempts, time.monotonic() - started


def effective_concurrency(model: Model, options: EngineOptions) -> int:
    if options.concurrency is not None:
        return max(1, options.concurrency)
    return max(1, int(model.preferred_concurrency or 16))


def failed_response(key: str, spec: str, error: str | None, attempts: int, seconds: float) -> Response:
    return Response(key, spec, ResponseStatus.FAILED, None, error, Usage(), attempts, seconds)


def tally(stats: EngineStats, response: Response) -> None:
    """Count one stored outcome into the stage's statistics."""
    stats.attempts += response.attempts
    if response.ok:
        stats.answered += 1
        stats.prompt_tokens += response.usage.prompt_tokens
        stats.completion_tokens += response.usage.completion_tokens
    else:
        stats.failed += 1
        kind = (response.error or "unknown").split(":")[0][:60]
        stats.errors[kind] = stats.errors.get(kind, 0) + 1


async def answer(model: Model, key: str, request: Request, options: EngineOptions, rng: random.Random) -> Response:
    """One request through the retry loop, as the response to store under `key`, answered or failed."""
    response, error, attempts, seconds = await call_with_retries(model, request, options, rng, key)
    if response is None:
        return failed_response(key, model.spec, error, attempts, seconds)
    return response


async def generate_pending(
    model: Model,
    pending: dict[str, Request],
    store: RunStore,
    options: EngineOptions,
    label: str = "generating",
    seed: int = 0,
    recipe: ModelRecipe | None = None,
) -> EngineStats:
    """Answer every request in `pending` (cache key -> request) and store each outcome.

    With the Ray executor, `recipe` tells the workers how to build their own copy of `model`; a
    stage that gives none runs here, on the local executor."""
    if not pending:
        return EngineStats()
    if options.executor.kind == "ray":
        if recipe is not None:
            from cares.runner.ray_executor import generate_on_ray

            return await generate_on_ray(model, recipe, pending, store, options, label, seed)
        log.info("%s runs on this machine; this stage is not spread over Ray", label)
    return await generate_locally(model, pending, store, options, label, seed)


class _Silent:
    """The bar of --no-progress: nothing is drawn, so rich need not be imported before the first request."""

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(label: str, total: int, enabled: bool) -> ProgressBar | _Silent:
    if not enabled:
        return _Silent()
    from cares.runner.progress import ProgressBar

    return ProgressBar(label, total, enabled)


async def generate_locally(
    model: Model, pending: dict[str, Request], store: RunStore, options: EngineOptions, label: str, seed: int
) -> EngineStats:
    stats = EngineStats(requested=len(pending))
    started = time.monotonic()
    rng = random.Random(seed)
    # Heavy one-time setup (loading weights) happens only when there is something to ask.
    await model.prepare()
    bar = _progress_bar(label, len(pending), options.progress)
    # As many workers as requests may be in flight, each taking the next request when it is done:
    # memory stays flat in the number of requests, where a task per request would hold them all.
    queue = iter(pending.items())

    async def worker() -> None:
        for key, request in queue:
            response = await answer(model, key, request, options, rng)
            tally(stats, response)
            store.put_response(response, request)
            bar.advance()

    with store.grouped_commits(GROUP_MAX):
        committer = asyncio.ensure_future(commit_every(store, GROUP_COMMIT_S))
        workers = [asyncio.ensure_future(worker())
                   for _ in range(min(effective_concurrency(model, options), len(pending)))]
        try:
            # A fatal error in one worker (bad key) cancels the rest instead of failing each item in turn.
            for finished in asyncio.as_completed(workers):
                await finished
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            committer.cancel()
            await asyncio.gather(committer, return_exceptions=True)
            bar.close()
            stats.seconds = time.monotonic() - started
    return stats


async def commit_every(store: RunStore, interval_s: float) -> None:
    """Commit the answers waiting in `store` every `interval_s` while the stage runs."""
    while True:
        await asyncio.sleep(interval_s)
        store.flush()
