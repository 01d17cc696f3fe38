"""Benchmark registry: a new benchmark is one module and one line here, or a plugin's
`TASKS.register(name, TaskClass)` (docs/plugins.md)."""

from __future__ import annotations

from typing import Any

from cares.registry import Registry
from cares.tasks.base import RunContext, SampleRow, Task
from cares.tasks.cares18k import Cares18KTask
from cares.tasks.vqa.task import CaresVQATask

TASKS: Registry[type[Task]] = Registry("benchmark")
for _task in (Cares18KTask, CaresVQATask):
    TASKS.register(_task.name, _task, _task.description)


def get_task(name: str, options: dict[str, Any] | None = None, context: RunContext | None = None) -> Task:
    """A task configured with its benchmark options; `context` carries run-time settings
    (image roots, a cached file hasher, scorer ids, a judge's validation) that do not change what is asked."""
    return TASKS.lookup(name)(options, context)


__all__ = ["TASKS", "get_task", "RunContext", "SampleRow", "Task"]
