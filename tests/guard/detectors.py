"""A transparent detector for wrapper tests: flags prompts holding a marker word, and remembers what it scored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class MarkerDetector:
    def __init__(self, marker: str = "pretend", threshold: float = 0.5) -> None:
        self.marker = marker
        self.threshold = threshold
        self.scored: list[str] = []
        self.calls: list[int] = []  # prompts per score() call

    def score(self, prompts: Sequence[str]) -> list[float]:
        self.scored.extend(prompts)
        self.calls.append(len(prompts))
        return [0.9 if self.marker in prompt.lower() else 0.1 for prompt in prompts]

    def identity(self) -> dict[str, Any]:
        return {"kind": "marker", "marker": self.marker, "threshold": self.threshold}
