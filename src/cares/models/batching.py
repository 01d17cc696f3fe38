"""Turning many concurrent single requests into length-sorted batches for a local model.

The engine speaks one request at a time (that is what makes caching, retries and resume uniform
across backends). A local model is fastest when it decodes many prompts at once, and wastes least
on padding when the prompts of a batch have similar lengths. The batcher sits between the two:
requests queue up while the previous batch runs, and each new batch is the oldest waiting request
plus its nearest neighbours by length. Anchoring on the oldest keeps the order fair (no long
prompt waits forever behind a stream of short ones).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_order = itertools.count()


@dataclass
class Waiting(Generic[T]):
    payload: T
    length: int
    group: Hashable
    future: asyncio.Future[Any]
    order: int = field(default_factory=lambda: next(_order))


def choose_batch(waiting: Sequence[Waiting[T]], batch_size: int) -> list[Waiting[T]]:
    """The oldest request and up to `batch_size - 1` others of its group with the closest lengths.

    Among the windows of consecutive lengths that contain the oldest request, the one with the
    smallest spread wins, so padding is as small as fairness allows.
    """
    if not waiting:
        return []
    anchor = min(waiting, key=lambda w: w.order)
    peers = sorted((w for w in waiting if w.group == anchor.group), key=lambda w: (w.length, w.order))
    if len(peers) <= batch_size:
        return peers
    at = peers.index(anchor)
    best_start, best_spread = 0, None
    for start in range(max(0, at - batch_size + 1), min(at, len(peers) - batch_size) + 1):
        spread = peers[start + batch_size - 1].length - peers[start].length
        if best_spread is None or spread < best_spread:
            best_start, best_spread = start, spread
    return peers[best_start : best_start + batch_size]


class MicroBatcher(Generic[T, R]):
    """Collects submissions and runs `run_batch` on them in one worker thread, a batch at a time.

    `run_batch(payloads)` returns one result per payload, in order; an Exception in that list fails
    only its own request, while an exception raised by `run_batch` fails the whole batch.
    """

    def __init__(self, run_batch: Callable[[list[T]], Sequence[R | BaseException]], batch_size: int,
                 gather_s: float = 0.01) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.run_batch = run_batch
        self.batch_size = batch_size
        self.gather_s = gather_s
        self.batches_run = 0
        self.largest_batch = 0
        self._waiting: list[Waiting[T]] = []
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    async def submit(self, payload: T, length: int, group: Hashable = None) -> R:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._start(loop)
        assert self._wakeup is not None
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append(Waiting(payload, length, group, future))
        self._wakeup.set()
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._wakeup = asyncio.Event()
        if self._executor is None:
            # One thread: the model is not re-entrant, and a GPU gains nothing from two callers.
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cares-batch")
        self._worker = loop.create_task(self._work())

    async def _work(self) -> None:
        assert self._wakeup is not None and self._loop is not None and self._executor is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # Requests that timed out or were cancelled while waiting are dropped unasked.
            self._waiting = [w for w in self._waiting if not w.future.done()]
            if not self._waiting:
                continue
            if len(self._waiting) < self.batch_size and self.gather_s > 0:
                # Submissions arrive a few at a time as the engine releases them: a short pause
                # lets a batch fill instead of running the first request alone.
                await asyncio.sleep(self.gather_s)
                self._waiting = [w for w in self._waiting if not w.future.done()]
            batch = choose_batch(self._waiting, self.batch_size)
            chosen = {id(w) for w in batch}
            self._waiting = [w for w in self._waiting if id(w) not in chosen]
            if self._waiting:
                self._wakeup.set()
            if not batch:
                continue
            self.batches_run += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            try:
                results = await self._loop.run_in_executor(self._executor, self.run_batch, [w.payload for w in batch])
            except BaseException as exc:  # noqa: BLE001 - handed to each waiting caller
                for w in batch:
                    if not w.future.done():
                        w.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for w, result in zip(batch, results, strict=True):
                if w.future.done():
                    continue
                if isinstance(result, BaseException):
                    w.future.set_exception(result)
                else:
                    w.future.set_result(result)

    async def aclose(self) -> None:
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):
                pass
        for w in self._waiting:
            if not w.future.done():
                w.future.cancel()
        self._waiting = []
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
