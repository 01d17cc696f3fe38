"""Building a run's typed results from its store and the rows a task scored."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from cares import __version__
from cares.judges.cascade import cascade_summary, is_cascade
from cares.results.model import Counts, Invocation, ModelInfo, Results, Usage, results_type
from cares.runner.config import RunConfig
from cares.runner.engine import EngineStats
from cares.runner.reuse import Reuse
from cares.store import RunStore
from cares.tasks.base import SampleRow


def plain(value: Any) -> Any:
    """`value` as JSON gives it back (tuples as lists), so a result in memory equals its results.json."""
    if isinstance(value, dict):
        return {key if isinstance(key, str) else json.dumps(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def count_rows(rows: list[SampleRow], metrics: dict[str, Any], skipped: dict[str, dict[str, str]]) -> Counts:
    responses = [row.response for row in rows if row.response is not None]
    # Where a task reads answers itself (CARES-VQA), its readers' unparsed count is the run's.
    by_variant = metrics.get("unparsed_by_variant")
    unparsed = (
        sum(by_variant.values()) if by_variant is not None else sum(1 for row in rows if row.excluded == "unparsed")
    )
    kinds: dict[str, int] = {}
    for entry in skipped.values():
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    return Counts(
        items=len({row.item.id for row in rows}),
        requests=len(rows),
        answered=sum(1 for r in responses if r.ok),
        failed=sum(1 for r in responses if not r.ok),
        pending=sum(1 for row in rows if row.response is None),
        unparsed=unparsed,
        # Answered but not labelled: the judge's calls failed. Never counted as scored, nor as done.
        unjudged=sum(1 for row in rows if row.excluded == "unjudged"),
        scored=sum(1 for row in rows if row.excluded is None),
        unparsed_by_variant=dict(by_variant) if by_variant is not None else None,
        skipped_items=len(skipped),
        skipped_by_reason=kinds,
    )


def invocation(gen_stats: EngineStats | None, judge_stats: EngineStats | None, reuse: Reuse | None) -> Invocation:
    return Invocation(
        requested=gen_stats.requested if gen_stats else 0,
        newly_answered=gen_stats.answered if gen_stats else 0,
        newly_failed=gen_stats.failed if gen_stats else 0,
        errors=dict(gen_stats.errors) if gen_stats else {},
        judge_calls=judge_stats.requested if judge_stats else 0,
        judge_failed=judge_stats.failed if judge_stats else 0,
        judge_errors=dict(judge_stats.errors) if judge_stats else {},
        reused_from_run_dir=reuse.from_run_dir if reuse is not None else None,
        reused_from_cache=reuse.from_cache if reuse is not None else 0,
        answer_cache=str(reuse.cache) if reuse is not None and reuse.cache is not None else None,
    )


def build_results(
    store: RunStore,
    config: RunConfig,
    judge_id: str,
    rows: list[SampleRow],
    metrics: dict[str, Any],
    gen_stats: EngineStats | None,
    judge_stats: EngineStats | None,
    reuse: Reuse | None,
    timings: dict[str, float],
) -> Results:
    """Everything results.json says about a run, from the store and this invocation's counts."""
    responses = [row.response for row in rows if row.response is not None]
    return results_type(config.benchmark)(
        cares_version=__version__,
        model=ModelInfo(config.model, store.get_meta("model_identity")),
        judge=judge_id,
        counts=count_rows(rows, metrics, store.get_meta("skipped") or {}),
        metrics=plain(metrics),
        judges_available=store.judges(),
        judge_cascade=cascade_summary(judge_id, store.judgements(judge_id).values()) if is_cascade(judge_id) else None,
        dataset=plain(store.get_meta("dataset")),
        selection=plain(config.selection.to_dict()),
        generation=plain(config.params.to_dict()),
        task_options=plain(config.task_options),
        scorers=store.get_meta("scorers_used") or {},
        seed=config.seed,
        usage=Usage(
            prompt_tokens=sum(r.usage.prompt_tokens for r in responses if r.ok),
            completion_tokens=sum(r.usage.completion_tokens for r in responses if r.ok),
            attempts=sum(r.attempts for r in responses),
        ),
        this_invocation=invocation(gen_stats, judge_stats, reuse),
        notes=store.get_meta("selection_notes") or [],
        created_at=store.get_meta("created_at"),
        updated_at=now_utc(),
        timings={key: round(value, 4) for key, value in timings.items()},
    )
