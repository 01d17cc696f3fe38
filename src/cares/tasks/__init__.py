"""Benchmark registry: a new benchmark is one module and one line here."""

from __future__ import annotations

from cares.errors import ConfigError
from cares.tasks.base import SampleRow, Task
from cares.tasks.cares18k import Cares18KTask

TASKS: dict[str, type] = {
    "cares-18k": Cares18KTask,
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]()
    except KeyError:
        raise ConfigError(f"unknown benchmark {name!r}; available: {', '.join(sorted(TASKS))}") from None


__all__ = ["TASKS", "get_task", "SampleRow", "Task"]
