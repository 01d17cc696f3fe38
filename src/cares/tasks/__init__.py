"""Benchmark registry: a new benchmark is one module and one line here."""

from __future__ import annotations

from typing import Any

from cares.errors import ConfigError
from cares.tasks.base import RunContext, SampleRow, Task
from cares.tasks.cares18k import Cares18KTask
from cares.tasks.vqa.task import CaresVQATask

TASKS: dict[str, type[Task]] = {
    "cares-18k": Cares18KTask,
    "cares-vqa": CaresVQATask,
}


def get_task(name: str, options: dict[str, Any] | None = None, context: RunContext | None = None) -> Task:
    """A task configured with its benchmark options; `context` carries run-time settings
    (image roots, a cached file hasher, scorer ids, a judge's validation) that do not change what is asked."""
    if name not in TASKS:
        raise ConfigError(f"unknown benchmark {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name](options, context)


__all__ = ["TASKS", "get_task", "RunContext", "SampleRow", "Task"]
