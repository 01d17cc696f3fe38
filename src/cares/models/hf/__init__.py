"""`hf/<directory or hub id>`: a local transformers model, batched.

Text models load with AutoModelForCausalLM, vision-language models with
AutoModelForImageTextToText and AutoProcessor. The engine still sends one request at a time, so
caching, retries and resume work exactly as for API models; the micro-batcher regroups the
requests in flight into length-sorted batches. Settings come from `--model-arg KEY=VALUE`
(device, dtype, batch_size, revision, trust_remote_code, attn_implementation, ignore_eos).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cares.models.base import FatalModelError, Model, ModelOptions
from cares.models.batching import MicroBatcher
from cares.models.hf.checkpoint import HFSettings, Loaded, load, locate, resolve_device, resolve_dtype
from cares.models.hf.decode import BatchGenerator, Prompt, free_cached_memory, prompt_length, render
from cares.models.registry import provider
from cares.types import Completion, Request

log = logging.getLogger(__name__)

# How many requests the engine should keep in flight, per batch slot: enough waiting requests that
# length sorting has something to choose from, few enough that none waits long.
_IN_FLIGHT_PER_SLOT = 4


class HFModel(Model):
    # The engine does not time out or rate-limit local calls: a request waiting for its batch is
    # not a stalled server.
    runs_locally = True

    def __init__(self, name: str, options: ModelOptions) -> None:
        self.spec = f"hf/{name}"
        self.settings = HFSettings.from_args(self.spec, options.extra)
        self.checkpoint = locate(name, self.settings)
        self.device = resolve_device(self.settings.device)
        self.dtype = resolve_dtype(self.settings.dtype, self.device)
        self.preferred_concurrency = self.settings.batch_size * _IN_FLIGHT_PER_SLOT
        self._loaded: Loaded | None = None
        self._generator: BatchGenerator | None = None
        self._load_lock: asyncio.Lock | None = None
        self._batcher: MicroBatcher[Prompt, Completion] = MicroBatcher(self._run_batch, self.settings.batch_size)

    def identity(self) -> dict[str, Any]:
        # What decides the answers: the checkpoint's content (weights, tokenizer, chat template) and
        # the numeric precision. Device and batch size are left out, so a run resumed elsewhere or
        # with another batch size keeps its answers (greedy results agree to float tolerance).
        return {
            "provider": "hf",
            **self.checkpoint.fingerprint,
            "kind": self.checkpoint.kind,
            "dtype": self.dtype,
            "ignore_eos": self.settings.ignore_eos,
        }

    @property
    def batch_size(self) -> int:
        return self._batcher.batch_size

    @batch_size.setter
    def batch_size(self, size: int) -> None:
        if size < 1:
            raise ValueError("batch_size must be at least 1")
        self._batcher.batch_size = size

    @property
    def batch_stats(self) -> dict[str, int]:
        return {
            "batches": self._batcher.batches_run,
            "largest_batch": self._batcher.largest_batch,
            "batch_size": self._batcher.batch_size,
        }

    async def prepare(self) -> None:
        """Load the weights once, off the event loop; called by the engine before the first request."""
        if self._loaded is not None:
            return
        if self._load_lock is None:
            self._load_lock = asyncio.Lock()
        async with self._load_lock:
            if self._loaded is None:
                loaded = await asyncio.to_thread(load, self.checkpoint, self.settings, self.device, self.dtype)
                self._generator = BatchGenerator(loaded, self.settings.ignore_eos, on_shrink=self._shrink)
                self._loaded = loaded

    async def generate(self, request: Request) -> Completion:
        await self.prepare()
        assert self._loaded is not None
        if request.images and self.checkpoint.kind != "vlm":
            raise FatalModelError(
                f"{self.spec} is a text-only model ({self.checkpoint.model_type}); this benchmark sends images, "
                "so it needs a vision-language checkpoint"
            )
        if request.images:
            # Image decoding is CPU work: do it beside the running batch, not on the event loop.
            prompt = await asyncio.to_thread(render, request, self._loaded)
        else:
            prompt = render(request, self._loaded)
        group = (request.params, len(prompt.images))  # only like with like: same settings, same image count
        return await self._batcher.submit(prompt, prompt_length(prompt, self._loaded), group)

    def _run_batch(self, prompts: list[Prompt]) -> list[Completion | BaseException]:
        assert self._generator is not None
        return self._generator.run(prompts)

    def _shrink(self, size: int) -> None:
        if size < self._batcher.batch_size:
            log.warning("%s: out of memory; batches capped at %d from now on", self.spec, size)
            self._batcher.batch_size = size

    async def aclose(self) -> None:
        await self._batcher.aclose()
        if self._loaded is not None:
            self._loaded = None
            self._generator = None
            free_cached_memory()


@provider("hf", "hf/<directory or hub id> - a local transformers model (text or vision-language), batched")
def make_hf(name: str, options: ModelOptions) -> HFModel:
    return HFModel(name, options)
