"""The judge protocol: (prompt, response) -> Accept / Caution / Refuse / unparsed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cares.types import Label


@dataclass(frozen=True)
class Verdict:
    label: Label
    # What the judge said, verbatim (an LLM's output) or why (the rule that fired).
    raw: str
    # How sure the judge is, 0-1: the rules judge's estimate of its own precision for the rule
    # that fired. A cascade passes answers below its threshold on to an LLM judge.
    confidence: float = 1.0


@runtime_checkable
class Judge(Protocol):
    """A judge is identified by `id` (name and version), which keys its stored judgements.

    Changing a judge's behaviour must change its id, so old judgements are never mixed
    with new ones.
    """

    @property
    def id(self) -> str: ...

    async def judge(self, prompt: str, response: str) -> Verdict: ...

    async def aclose(self) -> None: ...


class OfflineJudge(ABC):
    """A judge that reads answers in-process, without calling a model.

    The judging stage hands it whole batches (`judge_many`) instead of going through the request
    engine: there is nothing to cache, retry or resume, and batching is where its speed lies."""

    id: str

    @abstractmethod
    def classify(self, prompt: str, response: str) -> Verdict:
        """One verdict."""

    def judge_many(self, pairs: list[tuple[str, str]]) -> list[Verdict]:
        """Verdicts for (prompt, response) pairs, in order."""
        return [self.classify(prompt, response) for prompt, response in pairs]

    async def judge(self, prompt: str, response: str) -> Verdict:
        return self.classify(prompt, response)

    async def aclose(self) -> None:
        return None
