"""The body of a Ray worker: its own model, its share of the concurrency, the same retry loop.

Ray wraps this class into an actor at run time (cares.runner.ray_executor), so importing this
module needs no Ray. A worker never touches the run store: it returns finished responses and the
driver stores them.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

from cares.errors import ConfigError
from cares.runner.engine import EngineOptions, answer
from cares.runner.executor import ModelRecipe
from cares.types import Request, Response


class RequestWorker:
    def __init__(
        self, recipe: ModelRecipe, identity: dict[str, Any], options: EngineOptions, concurrency: int, seed: int
    ) -> None:
        self._recipe = recipe
        self._identity = identity
        self._options = options
        self._concurrency = concurrency
        self._rng = random.Random(seed)
        self._model: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._ready_lock: asyncio.Lock | None = None

    async def ready(self) -> int:
        """Build and load the model once; returns this worker's process id."""
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._model is None:
                model = self._recipe.build()
                identity = model.identity()
                if identity != self._identity:
                    # Cache keys are made by the driver from its own model: a worker that resolves the
                    # spec differently (another server from OPENAI_BASE_URL, another checkpoint) would
                    # store foreign answers under them.
                    changed = sorted(k for k in set(identity) | set(self._identity)
                                     if identity.get(k) != self._identity.get(k))
                    raise ConfigError(
                        f"{self._recipe.spec} on Ray worker {os.uname().nodename} differs from the driver's "
                        f"(changed: {', '.join(changed)}); give every node the same checkpoint, server and settings"
                    )
                await model.prepare()
                self._semaphore = asyncio.Semaphore(self._concurrency)
                self._model = model
        return os.getpid()

    async def run_chunk(self, chunk: list[tuple[str, Request]]) -> list[Response]:
        """Answer a chunk of (cache key, request); chunks in flight share this worker's concurrency."""
        await self.ready()
        assert self._semaphore is not None

        async def one(key: str, request: Request) -> Response:
            assert self._semaphore is not None
            async with self._semaphore:
                return await answer(self._model, key, request, self._options, self._rng)

        return list(await asyncio.gather(*(one(key, request) for key, request in chunk)))

    async def close(self) -> None:
        if self._model is not None:
            await self._model.aclose()
            self._model = None
