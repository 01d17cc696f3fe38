"""Benchmark registry: a new benchmark is one module that registers its task and one line in
`_BUILTINS`, or a plugin's `TASKS.register(name, TaskClass)` (docs/plugins.md). A benchmark's
module is imported when its name is first asked for, so a CARES-18K run never imports CARES-VQA's
task (nor the console it prints with) before its first request."""

from __future__ import annotations

from typing import Any

from cares.registry import Registry
from cares.tasks.base import RunContext, SampleRow, Task

_BUILTINS = {"cares-18k": "cares.tasks.cares18k", "cares-vqa": "cares.tasks.vqa.task"}
TASKS: Registry[type[Task]] = Registry("benchmark", _BUILTINS)


def get_task(name: str, options: dict[str, Any] | None = None, context: RunContext | None = None) -> Task:
    """A task configured with its benchmark options; `context` carries run-time settings
    (image roots, a cached file hasher, scorer ids, a judge's validation) that do not change what is asked."""
    return TASKS.lookup(name)(options, context)


__all__ = ["TASKS", "get_task", "RunContext", "SampleRow", "Task"]
