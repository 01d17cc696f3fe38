"""The Ray executor: the pending requests of a stage, answered by actors on a Ray cluster.

The driver (this process) cuts the pending requests into small chunks and keeps a few chunks in
flight per actor. Each actor builds its own model from a recipe and answers with the same retry
loop as the local executor. Finished chunks stream back as they complete and the driver alone
stores them, skipping any key already stored, so an answer is never stored twice.

A dead actor's unfinished chunks go back into the queue for the surviving actors and for a
replacement actor; what it had already returned is stored and never asked again.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cares.errors import CaresError, ConfigError
from cares.models.base import Model
from cares.runner.engine import EngineOptions, EngineStats, effective_concurrency, tally
from cares.runner.executor import ExecutorOptions, ModelRecipe, require_ray
from cares.runner.progress import ProgressBar
from cares.store import RunStore
from cares.types import Request

ACTOR_PREFIX = "cares-worker"
# Chunks queued per actor: one running, more waiting, so an actor never idles between round trips.
CHUNKS_IN_FLIGHT = 3
# API workers: fewer slots than this per worker are not worth a process of their own.
MIN_SLOTS_PER_WORKER = 8
CLOSE_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 5.0


@dataclass
class _Worker:
    handle: Any
    name: str
    in_flight: dict[Any, list[str]] = field(default_factory=dict)  # object ref -> chunk keys
    alive: bool = True


@dataclass(frozen=True)
class Plan:
    workers: int
    slots: list[int]  # concurrency of each worker
    gpus: float
    chunk: int


def unreachable(address: str | None) -> str | None:
    """Why nothing answers at an explicit HOST:PORT (or ray://HOST:PORT) address, or None when something does.

    Ray retries an address that does not answer for minutes before it gives up; one TCP connection
    with a short timeout tells a wrong address from a slow cluster at once."""
    if not address or address in ("auto", "local"):
        return None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def connect(options: ExecutorOptions) -> Any:
    ray = require_ray()
    if not ray.is_initialized():
        address = options.ray_address or os.environ.get("RAY_ADDRESS")
        problem = unreachable(address)
        if problem:
            flag = "--ray-address" if options.ray_address else "RAY_ADDRESS"
            raise ConfigError(f"{flag} {address}: cannot join the Ray cluster, nothing answers there ({problem})")
        # No address: RAY_ADDRESS, else the cluster last started on this node, else a new local instance.
        try:
            ray.init(address=options.ray_address, logging_level="WARNING")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = options.ray_address or "the default address"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"--ray-address {where}: cannot join the Ray cluster ({first_line})") from None
    return ray


def plan(model: Model, options: EngineOptions, resources: dict[str, float], pending: int) -> Plan:
    """How many actors, with how much concurrency and how many GPUs each.

    API models share one concurrency budget (it protects the server); each local-model actor owns
    its GPU and keeps as many requests in flight as the model wants."""
    executor = options.executor
    budget = effective_concurrency(model, options)
    if model.runs_locally:
        cluster_gpus = resources.get("GPU", 0.0)
        gpus = executor.gpus_per_worker if executor.gpus_per_worker is not None else (1.0 if cluster_gpus else 0.0)
        default = int(cluster_gpus // gpus) if gpus else 1
        # An actor loads a whole model: not worth it for less work than its own budget.
        workers = max(1, min(executor.ray_workers or default, math.ceil(pending / budget)))
        slots = [budget] * workers
    else:
        gpus = 0.0
        default = min(int(resources.get("CPU", 1)), budget // MIN_SLOTS_PER_WORKER)
        workers = executor.ray_workers or max(1, default)
        workers = max(1, min(workers, budget, math.ceil(pending / MIN_SLOTS_PER_WORKER)))
        slots = [budget // workers + (1 if i < budget % workers else 0) for i in range(workers)]
    # Chunks of half a worker's slots, a few in flight: slots stay busy, and a dead actor takes
    # little unreturned work with it.
    return Plan(workers, slots, gpus, chunk=max(1, math.ceil(min(slots) / 2)))


def _cause(exc: BaseException) -> BaseException:
    """The worker-side exception inside a Ray task error, where Ray kept it."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


async def generate_on_ray(
    model: Model,
    recipe: ModelRecipe,
    pending: dict[str, Request],
    store: RunStore,
    options: EngineOptions,
    label: str,
    seed: int,
) -> EngineStats:
    ray = connect(options.executor)
    from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError

    from cares.runner.ray_worker import RequestWorker

    stats = EngineStats(requested=len(pending))
    started = time.monotonic()
    layout = plan(model, options, ray.cluster_resources(), len(pending))
    actor_class = ray.remote(RequestWorker)
    identity = model.identity()
    run_tag = uuid.uuid4().hex[:8]
    serial = itertools.count()
    # A few replacements per worker: more deaths than that is a broken cluster, not bad luck.
    replacements_left = 2 * layout.workers + 2

    def spawn(slot: int) -> _Worker:
        index = next(serial)
        name = f"{ACTOR_PREFIX}-{run_tag}-{index}"
        handle = actor_class.options(
            name=name, num_cpus=1, num_gpus=layout.gpus, max_restarts=0, max_concurrency=1000
        ).remote(recipe, identity, options, layout.slots[slot], seed + index)
        return _Worker(handle, name)

    def replace_dead(worker: _Worker) -> None:
        nonlocal replacements_left
        if worker.alive:
            worker.alive = False
            if replacements_left > 0:
                replacements_left -= 1
                workers.append(spawn(workers.index(worker) % layout.workers))

    workers = [spawn(i) for i in range(layout.workers)]
    try:
        # Load every model first: a bad spec or checkpoint fails once here, not per chunk.
        loads = await asyncio.gather(*(_wait(w.handle.ready.remote()) for w in workers), return_exceptions=True)
        for worker, result in list(zip(workers, loads)):
            if isinstance(result, (RayActorError, WorkerCrashedError)):
                replace_dead(worker)
            elif isinstance(result, BaseException):
                raise _cause(result)
        queue = deque(_chunks(list(pending), layout.chunk))
        stored: set[str] = set()
        bar = ProgressBar(f"{label} (ray, {layout.workers} workers)", len(pending), options.progress)
        futures: dict[asyncio.Future[Any], tuple[_Worker, Any]] = {}
        try:
            while queue or futures:
                for worker in workers:
                    while worker.alive and queue and len(worker.in_flight) < CHUNKS_IN_FLIGHT:
                        keys = queue.popleft()
                        ref = worker.handle.run_chunk.remote([(key, pending[key]) for key in keys])
                        worker.in_flight[ref] = keys
                        futures[asyncio.ensure_future(_wait(ref))] = (worker, ref)
                if not futures:
                    raise CaresError(
                        f"{label}: every Ray worker died, {len(stored)} answers are stored and "
                        f"{len(pending) - len(stored)} are left; run the same command again to resume"
                    )
                done, _ = await asyncio.wait(list(futures), return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    worker, ref = futures.pop(future)
                    keys = worker.in_flight.pop(ref)
                    try:
                        responses = future.result()
                    except (RayActorError, WorkerCrashedError):
                        # The actor is gone: what it returned is stored, the rest goes back in the queue.
                        queue.extendleft(reversed(_chunks([k for k in keys if k not in stored], layout.chunk)))
                        replace_dead(worker)
                        continue
                    except RayTaskError as exc:
                        raise _cause(exc) from None
                    for response in responses:
                        if response.key in stored:
                            continue
                        store.put_response(response, pending[response.key])
                        stored.add(response.key)
                        tally(stats, response)
                        bar.advance()
        finally:
            for future in futures:
                future.cancel()
            bar.close()
    finally:
        await _close(ray, workers)
        stats.seconds = time.monotonic() - started
    return stats


async def _close(ray: Any, workers: list[_Worker]) -> None:
    """Let the live actors close their clients and free their GPUs, then end them all."""
    closing = [asyncio.ensure_future(_wait(w.handle.close.remote())) for w in workers if w.alive]
    if closing:
        _, late = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
        for future in late:
            future.cancel()
        for future in closing:
            if not future.cancelled():
                future.exception()  # a failed close must not surface as an unretrieved error
    for worker in workers:
        ray.kill(worker.handle, no_restart=True)


async def _wait(ref: Any) -> Any:
    return await asyncio.wrap_future(ref.future())


def _chunks(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]
