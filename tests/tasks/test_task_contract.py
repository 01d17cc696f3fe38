"""The task contract: declared hooks with defaults, and a run context handed in, never assigned."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cares.data.selection import Selection
from cares.errors import ConfigError
from cares.tasks import RunContext, get_task
from cares.tasks.base import SampleRow, Task
from cares.types import GenerationParams


class Minimal(Task):
    name = "minimal"
    description = "a task with only the required methods"
    overview_title = "minimal"

    def load(self, data: str, split: str, revision: str | None, selection: Any) -> Any:
        raise NotImplementedError

    def requests(self, item: Any, params: Any) -> dict[str, Any]:
        return {}

    def score(self, row: SampleRow) -> float | None:
        return None

    def metrics(self, rows: list[SampleRow], resamples: int, seed: int) -> dict[str, Any]:
        return {}

    def summary(self, results: dict[str, Any]) -> Any:
        return ""

    def overview_row(self, results: dict[str, Any]) -> dict[str, str]:
        return {}


def test_a_task_missing_a_required_method_cannot_be_made() -> None:
    class Incomplete(Task):
        name = description = overview_title = "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_the_optional_hooks_have_defaults() -> None:
    task = Minimal()
    assert task.needs_label_judge is True
    assert task.prepare([]) is None
    assert task.sample_extra(None) == {}  # type: ignore[arg-type]
    assert asyncio.run(task.score_stage(None, [], None, None)) == {}
    assert task.context == RunContext()


def test_the_run_context_is_handed_in_and_read_by_the_task(tmp_path: Path) -> None:
    seen: list[Path] = []

    def hasher(path: Path) -> str:
        seen.append(path)
        return "0" * 64

    context = RunContext(hash_file=hasher, scorer_ids={"toxicity": "toxicity/x"})
    task = get_task("cares-vqa", {"tasks": ["factuality"]}, context)
    assert task.context is context and task.needs_label_judge is False
    items, _ = task.load("sample", "test", None, Selection())
    task.prepare(items)
    requests = task.requests(items[0], GenerationParams())
    assert seen and requests["factuality"].images[0].sha256 == "0" * 64


def test_cares_18k_takes_no_task_options_and_reads_its_calibration_from_the_context() -> None:
    with pytest.raises(ConfigError, match="takes no task options"):
        get_task("cares-18k", {"tasks": ["x"]})
    assert get_task("cares-18k").judge_calibration is None  # type: ignore[attr-defined]
