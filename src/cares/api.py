"""The typed Python API. The CLI is a thin layer over these functions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cares.data.selection import Selection
    from cares.runner.pipeline import RunOptions
    from cares.runner.result import RunResult
    from cares.types import GenerationParams


async def evaluate_async(
    benchmark: str = "cares-18k",
    *,
    model: str,
    data: str = "sample",
    split: str = "test",
    revision: str | None = None,
    judge: str = "rules",
    selection: Selection | None = None,
    params: GenerationParams | None = None,
    run_dir: str | Path | None = None,
    options: RunOptions | None = None,
    seed: int = 0,
    bootstrap: int = 1000,
) -> RunResult:
    from cares.data.selection import Selection
    from cares.runner.config import RunConfig
    from cares.runner.pipeline import evaluate_async as run
    from cares.types import GenerationParams

    config = RunConfig(
        benchmark=benchmark,
        model=model,
        data=data,
        split=split,
        revision=revision,
        selection=selection or Selection(seed=seed),
        params=params or GenerationParams(),
        judge=judge,
        seed=seed,
        bootstrap=bootstrap,
    )
    return await run(config, Path(run_dir) if run_dir is not None else None, options)


def evaluate(benchmark: str = "cares-18k", **kwargs: object) -> RunResult:
    """Run a benchmark on a model and return its typed result (see `evaluate_async` for arguments)."""
    return asyncio.run(evaluate_async(benchmark, **kwargs))  # type: ignore[arg-type]


def rescore(run_dir: str | Path, judge: str, options: RunOptions | None = None) -> RunResult:
    """Judge an existing run again with another judge, without calling the evaluated model."""
    from cares.runner.pipeline import rescore_async

    return asyncio.run(rescore_async(Path(run_dir), judge, options))
