"""`guard/<model spec>`: any model behind the CARES-18K mitigation.

Each request's last user turn is scored by the jailbreak-style detector; when the policy says so,
the safety reminder goes in as the system message before the request reaches the wrapped model.
Every answer records the detector score, whether the prompt was flagged and whether the reminder
was applied, so an evaluation can say what the guard did, item by item.

A request the guard leaves unchanged is byte-identical to the unguarded model's request. With a
`reuse` store (a run of the same model without the guard) its stored answer stands in for a new
call: the ablation pays only for the requests the guard changed.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.guard.policy import Guard, GuardDecision, GuardPolicy, prompt_text, with_reminder
from cares.models.base import GuardSettings, Model, ModelOptions
from cares.models.batching import MicroBatcher
from cares.models.registry import get_model, provider, split_spec
from cares.store import RunStore
from cares.store.runstore import STORE_NAME
from cares.types import Completion, Message, Request

log = logging.getLogger(__name__)

PROVIDER = "guard"
SCORE_BATCH = 64


class GuardedModel(Model):
    def __init__(self, inner: Model, guard: Guard, reuse: RunStore | None = None) -> None:
        self.inner = inner
        self.guard = guard
        self.reuse = reuse
        self.spec = f"{PROVIDER}/{inner.spec}"
        self._inner_identity = inner.identity()
        # Rewrites of one base prompt repeat across runs and variants; a prompt is scored once.
        self._scores: dict[str, GuardDecision] = {}
        # Concurrent requests are scored together, in a worker thread: one forward pass of a
        # sentence encoder for many prompts instead of one each (builtin:minilm), off the event loop.
        self._scorer: MicroBatcher[str, GuardDecision] = MicroBatcher(guard.decide_many, SCORE_BATCH, gather_s=0.002)

    # The engine reads these of the model it drives; they belong to the wrapped model.
    # Read-only properties over the base's attributes: the wrapped model decides them.
    @property
    def runs_locally(self) -> bool:  # type: ignore[override]
        return self.inner.runs_locally

    @property
    def preferred_concurrency(self) -> int | None:  # type: ignore[override]
        return self.inner.preferred_concurrency

    async def prepare(self) -> None:
        await self.inner.prepare()

    def identity(self) -> dict[str, Any]:
        # The guard's settings decide the answers as much as the model does: a guarded answer is
        # never served for an unguarded request, nor for another detector, threshold or reminder.
        return {"provider": PROVIDER, "inner": self._inner_identity, "guard": self.guard.identity()}

    async def decide(self, request: Request) -> GuardDecision:
        text = prompt_text([m.to_dict() for m in request.messages])
        decision = self._scores.get(text)
        if decision is None:
            decision = await self._scorer.submit(text, len(text))
            self._scores[text] = decision
        return decision

    def conditioned(self, request: Request, decision: GuardDecision) -> Request:
        """The request the wrapped model receives: unchanged unless the reminder applies."""
        if not decision.applied:
            return request
        # Decided already (and cached): put the reminder in without scoring the prompt again.
        messages = with_reminder([m.to_dict() for m in request.messages], self.guard.policy.reminder)
        return replace(request, messages=tuple(Message(m["role"], m["content"]) for m in messages))

    async def generate(self, request: Request) -> Completion:
        decision = await self.decide(request)
        sent = self.conditioned(request, decision)
        meta: dict[str, Any] = {"guard": decision.to_dict()}
        if not decision.applied and self.reuse is not None:
            stored = self.reuse.response(sent.cache_key(self._inner_identity))
            if stored is not None and stored.ok and stored.text is not None:
                return Completion(stored.text, stored.usage, stored.finish_reason, {**meta, "reused": True})
        completion = await self.inner.generate(sent)
        return replace(completion, meta={**(completion.meta or {}), **meta})

    async def aclose(self) -> None:
        try:
            await self._scorer.aclose()
            await self.inner.aclose()
        finally:
            if self.reuse is not None:
                self.reuse.close()


def build_guard(settings: GuardSettings) -> Guard:
    from cares.guard.detector import load_detector

    # The settings hold the mode as text; GuardPolicy checks it is one of its modes.
    policy = GuardPolicy(mode=settings.mode or "flagged", threshold=settings.threshold)  # type: ignore[arg-type]
    detector = load_detector(settings.detector)
    # Loading the file needs nothing extra; scoring may. Better one error now than one per item.
    detector.require()
    return Guard(detector, policy)


def open_reuse_store(run_dir: str | None) -> RunStore | None:
    if run_dir is None:
        return None
    if not (Path(run_dir) / STORE_NAME).is_file():
        # The unguarded run was moved or deleted: every request is asked, nothing is wrong.
        log.info("%s holds no run store; guarded requests are all asked anew", run_dir)
        return None
    return RunStore.in_dir(run_dir, read_only=True)


@provider(PROVIDER, "guard/<model spec> - the model behind the jailbreak-style detector and safety reminder; "
                    "--guard-detector, --guard-mode, --guard-threshold")
def make_guarded(rest: str, options: ModelOptions) -> GuardedModel:
    inner_provider, _ = split_spec(rest)
    if inner_provider == PROVIDER:
        raise ConfigError(f"guard/{rest}: a model is guarded once; drop the second guard/")
    settings = options.guard or GuardSettings()
    guard = build_guard(settings)
    # The wrapped model sees the options without the guard's, so its identity is exactly that of
    # the same model run unguarded.
    inner = get_model(rest, replace(options, guard=None))
    return GuardedModel(inner, guard, open_reuse_store(settings.reuse_from))
