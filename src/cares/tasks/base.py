"""The task protocol: what a benchmark contributes to the shared pipeline.

A task loads items, turns each into one or more requests (variants), and turns judged
responses into metrics. Storage, generation, retries, judging and exports are shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import RenderableType

from cares.data.cares18k import DatasetInfo
from cares.data.selection import Selection
from cares.errors import CaresError
from cares.types import GenerationParams, Item, Judgement, Label, Request, Response


@dataclass(frozen=True)
class SampleRow:
    """One item-variant with everything known about it, joined by ids from the store."""

    item: Item
    variant: str
    key: str
    request: Request
    response: Response | None
    judgement: Judgement | None
    # False where the task reads answers itself (CARES-VQA) instead of having a judge label them.
    needs_judgement: bool = True
    # Numeric scores of the response by scorer id (toxicity, open-ended judge scores).
    scores: dict[str, float | None] = field(default_factory=dict)

    @property
    def excluded(self) -> str | None:
        if self.response is None:
            return "pending"
        if not self.response.ok:
            return "failed"
        if not self.needs_judgement:
            return None
        if self.judgement is None:
            return "unjudged"
        if self.judgement.label.value == "unparsed":
            return "unparsed"
        return None

    @property
    def scored_label(self) -> Label | None:
        """The judge's label where it counts; None for a pending, failed, unjudged or unparsed row,
        and where no judge labels the answers (CARES-VQA)."""
        if self.excluded is not None or self.judgement is None:
            return None
        return self.judgement.label


class SkipItem(CaresError):
    """An item that cannot be asked (its image is missing or unreadable): counted, not fatal."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Task(Protocol):
    name: str
    description: str
    overview_title: str

    def load(self, data: str, split: str, revision: str | None, selection: Selection) -> tuple[list[Item], DatasetInfo]: ...

    def requests(self, item: Item, params: GenerationParams) -> dict[str, Request]: ...

    def score(self, row: SampleRow) -> float | None: ...

    def metrics(self, rows: list[SampleRow], resamples: int, seed: int) -> dict[str, Any]: ...

    def summary(self, results: dict[str, Any]) -> RenderableType: ...

    def overview_row(self, results: dict[str, Any]) -> dict[str, str]: ...
