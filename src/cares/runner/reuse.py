"""The generation stage with its reuse counted: answers already in the run directory, answers from the
shared answer cache, and what was actually asked of the model.

Reuse is never silent: the counts go into results.json (`this_invocation`) and the closing lines
of `cares run`, so a rerun that pays nothing says so, and says where the answers came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.data.selection import Selection
from cares.models.base import Model
from cares.runner.engine import EngineOptions, EngineStats, generate_pending
from cares.runner.executor import ModelRecipe
from cares.store import RunStore
from cares.store.answer_cache import default_path, offering_answers, open_cache, reuse_cached
from cares.types import Request


@dataclass(frozen=True)
class Reuse:
    from_run_dir: int  # answered in this run directory before this invocation
    from_cache: int  # copied from the shared answer cache into the run directory now
    cache: Path | None  # the shared cache used, None when off

    def to_dict(self) -> dict[str, Any]:
        return {"reused_from_run_dir": self.from_run_dir, "reused_from_cache": self.from_cache,
                "answer_cache": None if self.cache is None else str(self.cache)}


async def answer_all(
    model: Model, links: list[tuple[str, str, str, Request]], store: RunStore, engine: EngineOptions,
    cache_on: bool, cache_path: Path | None, seed: int, recipe: ModelRecipe | None,
) -> tuple[EngineStats, Reuse]:
    """Ask the model only what neither the run directory nor the shared cache already holds."""
    identity = model.identity()
    answered = store.answered_keys()
    wanted = {key: request for _, _, key, request in links}
    pending = {key: request for key, request in wanted.items() if key not in answered}
    cache = open_cache(cache_on, cache_path) if pending else None
    try:
        to_ask = reuse_cached(cache, store, pending, identity)
        with offering_answers(cache, store, identity):
            stats = await generate_pending(model, to_ask, store, engine, seed=seed, recipe=recipe)
    finally:
        if cache is not None:
            cache.close()
    configured = (cache_path or default_path()) if cache_on else None
    # Nothing pending: the cache was not opened, but it is where a new answer would have gone.
    where = cache.path if cache is not None else (configured if not pending else None)
    return stats, Reuse(len(wanted) - len(pending), len(pending) - len(to_ask), where)


def selection_notes(selection: Selection, chosen: int) -> list[str]:
    """What the selection did that the command line does not show."""
    if selection.sample is not None and selection.sample > chosen:
        return [f"--sample {selection.sample} asks for more items than the {chosen} the data and filters give; "
                f"all {chosen} are used"]
    return []
