"""The task protocol: what a benchmark contributes to the shared pipeline.

A task loads items, turns each into one or more requests (variants), and turns judged
responses into metrics. Storage, generation, retries, judging and exports are shared.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cares.data.cares18k import DatasetInfo
from cares.data.selection import Selection
from cares.errors import CaresError
from cares.types import GenerationParams, Item, Judgement, Label, Request, Response

if TYPE_CHECKING:
    from rich.console import RenderableType


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


def _file_sha256(path: Path) -> str:
    from cares.data.records import file_sha256

    return file_sha256(path)


@dataclass(frozen=True)
class RunContext:
    """What the pipeline hands a task for one run, none of which changes what is asked: the task
    reads it, and nothing is ever assigned onto a task from outside."""

    # Hashes source files (images); a run passes its store's cached hasher.
    hash_file: Callable[[Path], str] = _file_sha256
    # Where each source's images are (CARES-VQA `--image-root`).
    image_roots: dict[str, str] = field(default_factory=dict)
    # Scorer ids by purpose that the scoring stage used (CARES-VQA open-ended judge, toxicity).
    scorer_ids: dict[str, str] = field(default_factory=dict)
    # The run's judge validation record (judges/calibration.py), for judge-labelled benchmarks.
    judge_calibration: dict[str, Any] | None = None


class Task(ABC):
    """A benchmark: the abstract methods are what every task gives; the hooks below have defaults
    that a task overrides only when it needs them."""

    name: ClassVar[str]
    description: ClassVar[str]
    overview_title: ClassVar[str]
    # False where the task reads answers itself (CARES-VQA) instead of having a judge label them.
    needs_label_judge: ClassVar[bool] = True
    # Whether `score_stage` looks at the rows it is given: reading them means decoding every item,
    # request and response once more, which a task without a score stage (CARES-18K) is spared.
    score_stage_reads_rows: ClassVar[bool] = True

    def __init__(self, options: dict[str, Any] | None = None, context: RunContext | None = None) -> None:
        self.options = dict(options or {})
        self.context = context or RunContext()

    @abstractmethod
    def load(
        self, data: str, split: str, revision: str | None, selection: Selection
    ) -> tuple[list[Item], DatasetInfo]: ...

    @abstractmethod
    def requests(self, item: Item, params: GenerationParams) -> dict[str, Request]: ...

    @abstractmethod
    def score(self, row: SampleRow) -> float | None: ...

    @abstractmethod
    def metrics(self, rows: list[SampleRow], resamples: int, seed: int) -> dict[str, Any]: ...

    @abstractmethod
    def summary(self, results: dict[str, Any]) -> RenderableType: ...

    @abstractmethod
    def overview_row(self, results: dict[str, Any]) -> dict[str, str]: ...

    # -- hooks with defaults --------------------------------------------------------------------
    def prepare(self, items: list[Item]) -> None:
        """Called with every item of the run before any `requests` call (e.g. to pick one item per image)."""

    async def score_stage(self, store: Any, rows: list[SampleRow], config: Any, options: Any) -> dict[str, str]:
        """Scores that need a model or service after generation; returns the scorer ids by purpose.
        `rows` is empty where the task sets `score_stage_reads_rows` False."""
        return {}

    def ready_metrics(self, groups: list[str], resamples: int, seed: int) -> None:
        """Work of `metrics` that needs no answer, given every item's cluster in order: called in a
        background thread while the answers come in, so it must only prepare what `metrics` would
        compute itself, the same, and leave `metrics` correct when it was not called."""

    def sample_extra(self, row: SampleRow) -> dict[str, Any]:
        """Task-specific fields added to a row of samples.jsonl."""
        return {}
