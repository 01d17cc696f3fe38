"""The `rules` judge behind the Judge protocol, light to import.

A run builds its judge before its first request, and the classifier (`rules.py`) brings numpy,
RE2 and the weights with it. This class defers all of that to its first verdict, and the run's
warming thread (`runner/warm.py`) imports and loads it while the requests are in flight, so the
judge costs the request phase nothing.
"""

from __future__ import annotations

from cares.judges.base import OfflineJudge, Verdict

RULES_VERSION = "13"
# The weights this version reads; refitting them is a new version (tests/judges/test_lexical.py).
MODEL_SHA256 = "9f69e5e04354406cfe135c702afd0ffa8398aac1271c1041d29d3ee494f85f73"


class RulesJudge(OfflineJudge):
    """`rules`: `rules.classify` behind the Judge protocol; the id names the weights' version."""

    id = f"rules@{RULES_VERSION}"

    def __init__(self, cores: int | None = None) -> None:
        """`cores`: processes that read a large batch (`rules.classify_many`); by default every core."""
        self.cores = cores

    def classify(self, prompt: str, response: str) -> Verdict:
        from cares.judges.rules import classify

        return classify(response, prompt)

    def judge_many(self, pairs: list[tuple[str, str]]) -> list[Verdict]:
        """Verdicts for (prompt, response) pairs; a pair repeated (a prompt asked of several models
        that answer alike, constant baselines) is read once."""
        from cares.judges.rules import classify_many

        distinct = list(dict.fromkeys(pairs))
        by_pair = dict(zip(distinct, classify_many(distinct, cores=self.cores)))
        return [by_pair[pair] for pair in pairs]
