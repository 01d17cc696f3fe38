"""Benchmark registry: a new benchmark is one module and one line here."""

from __future__ import annotations

from typing import Any

from cares.errors import ConfigError
from cares.tasks.base import SampleRow, Task
from cares.tasks.cares18k import Cares18KTask
from cares.tasks.vqa.task import CaresVQATask

TASKS: dict[str, type] = {
    "cares-18k": Cares18KTask,
    "cares-vqa": CaresVQATask,
}


def get_task(name: str, options: dict[str, Any] | None = None, **context: Any) -> Task:
    """A task configured with its benchmark options; `context` carries run-time settings
    (image roots, a cached file hasher) that do not change what is asked."""
    if name not in TASKS:
        raise ConfigError(f"unknown benchmark {name!r}; available: {', '.join(sorted(TASKS))}")
    if name == "cares-18k":
        if options:
            raise ConfigError(f"cares-18k takes no task options (got {', '.join(options)})")
        return Cares18KTask(judge_calibration=context.get("judge_calibration"))
    context.pop("judge_calibration", None)  # only judge-labelled benchmarks have a judge to correct
    return TASKS[name](options, **context)


__all__ = ["TASKS", "get_task", "SampleRow", "Task"]
