"""`cascade:<llm spec>`: the rules judge labels what it is sure of, an LLM judge labels the rest.

Sure means the rules judge's confidence for the rule that fired is at least the threshold
(`cascade@0.9:llm/...`; default below). The LLM part is an ordinary `LLMJudge`, so its calls go
through the engine and the run store: cached, retried and resumable. Each stored judgement's
raw text starts with which judge decided it, so the share sent on is read back from the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cares.errors import ConfigError
from cares.judges.base import Verdict
from cares.judges.llm import LLMJudge
from cares.judges.rules import RulesJudge, classify_many
from cares.types import Judgement

# Answers the rules judge labels with at least this confidence keep its label. Leaving each development
# file out in turn, 0.7 kept 63% of the answers at 0.977 agreement (docs/judges.md).
DEFAULT_THRESHOLD = 0.7
RULES_TAG, LLM_TAG = "[rules] ", "[llm] "
_SPEC = re.compile(r"^cascade(?:@(?P<threshold>[0-9.]+))?:(?P<llm>.+)$")


def parse_spec(spec: str) -> tuple[float, str]:
    """(threshold, llm judge spec) from `cascade[@T]:llm/...`."""
    match = _SPEC.match(spec)
    if match is None or not match.group("llm").startswith("llm/"):
        raise ConfigError(f"judge {spec!r}: a cascade is 'cascade:llm/<model spec>' or 'cascade@0.9:llm/<model spec>'")
    threshold = float(match.group("threshold")) if match.group("threshold") else DEFAULT_THRESHOLD
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"judge {spec!r}: the cascade threshold must be within 0-1")
    return threshold, match.group("llm")


@dataclass
class CascadeJudge:
    llm: LLMJudge
    threshold: float = DEFAULT_THRESHOLD

    @property
    def id(self) -> str:
        return f"cascade({RulesJudge.id}>={self.threshold:g}|{self.llm.id})"

    def first_pass(self, prompt: str, response: str) -> Verdict | None:
        """The rules judge's verdict when it is sure enough, tagged; None sends the answer on."""
        return self.first_pass_many([(prompt, response)])[0]

    def first_pass_many(self, pairs: list[tuple[str, str]]) -> list[Verdict | None]:
        """`first_pass` for many (prompt, response) pairs, read in one batch."""
        out: list[Verdict | None] = []
        for verdict in classify_many(list(pairs)):
            out.append(None if verdict.confidence < self.threshold else Verdict(
                verdict.label, f"{RULES_TAG}(confidence {verdict.confidence:.2f}) {verdict.raw}", verdict.confidence))
        return out

    def second_pass(self, output: str) -> Verdict:
        verdict = self.llm.verdict(output)
        return Verdict(verdict.label, LLM_TAG + verdict.raw)

    async def judge(self, prompt: str, response: str) -> Verdict:
        sure = self.first_pass(prompt, response)
        if sure is not None:
            return sure
        completion = await self.llm.model.generate(self.llm.request(prompt, response))
        return self.second_pass(completion.text)

    async def aclose(self) -> None:
        await self.llm.aclose()


def is_cascade(judge_id: str) -> bool:
    return judge_id.startswith("cascade(")


def cascade_summary(judge_id: str, judgements: Iterable[Judgement]) -> dict[str, Any] | None:
    """How many answers each stage of a cascade labelled, from the stored judgements."""
    if not is_cascade(judge_id):
        return None
    by_rules = by_llm = 0
    for judgement in judgements:
        if (judgement.raw or "").startswith(LLM_TAG):
            by_llm += 1
        else:
            by_rules += 1
    total = by_rules + by_llm
    threshold = re.search(r">=([0-9.]+)\|", judge_id)
    return {
        "threshold": float(threshold.group(1)) if threshold else None,
        "labelled_by_rules": by_rules,
        "sent_to_llm": by_llm,
        "share_sent_to_llm": by_llm / total if total else None,
    }
