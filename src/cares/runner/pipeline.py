"""The pipeline: data -> model -> stored responses -> judge -> metrics -> exports.

Each stage reads from and writes to the run store, so every stage can be re-entered: a killed
run resumes where it stopped, and a new judge re-scores without touching the model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cares.errors import CaresError, ConfigError
from cares.judges import get_judge
from cares.models.base import GuardSettings, Model, ModelOptions
from cares.models.registry import get_model
from cares.runner.config import RunConfig, check_resumable
from cares.runner.engine import EngineOptions, EngineStats
from cares.runner.executor import ModelRecipe
from cares.runner.reuse import Reuse, answer_all, selection_notes
from cares.runner.warm import warm_later_stages
from cares.store import RunStore
from cares.store.lock import RunDirLock
from cares.store.runstore import STORE_NAME
from cares.tasks import get_task
from cares.tasks.base import RunContext, SkipItem, Task

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cares.runner.result import RunResult

# Judging, metrics and exports are imported where they are first used, not here: a run needs none of
# them to start asking, and `warm_later_stages` imports them while the requests are in flight.


@dataclass(frozen=True)
class RunOptions:
    """How to run, as opposed to what to run: none of this changes the answers."""

    engine: EngineOptions = field(default_factory=EngineOptions)
    model: ModelOptions = field(default_factory=ModelOptions)
    judge_model: ModelOptions = field(default_factory=ModelOptions)
    judge_template: str | None = None
    image_roots: dict[str, str] = field(default_factory=dict)
    # A `cares judge validate` report: the Safety Score is also given corrected for that judge's errors.
    judge_calibration: Path | None = None
    # The shared answer cache (cares.store.answer_cache): on unless --no-cache; None: $CARES_ANSWER_CACHE or
    # the user cache directory.
    answer_cache: bool = True
    answer_cache_path: Path | None = None


def stored_config(run_dir: Path) -> RunConfig:
    if not (run_dir / STORE_NAME).exists():
        raise ConfigError(f"{run_dir} is not a cares run directory (no {STORE_NAME})")
    with RunStore.in_dir(run_dir) as store:
        data = store.get_meta("config")
    if data is None:
        raise ConfigError(f"{run_dir} has no stored configuration; was the run started with this toolkit?")
    return RunConfig.from_dict(data)


def stored_model_args(run_dir: Path) -> list[tuple[str, str]]:
    with RunStore.in_dir(run_dir) as store:
        return [tuple(pair) for pair in store.get_meta("model_args") or []]


def stored_base_url(run_dir: Path) -> str | None:
    """The server the run's model was asked at (part of its identity), wrapped models included."""
    if not (run_dir / STORE_NAME).exists():
        return None
    with RunStore.in_dir(run_dir) as store:
        identity = store.get_meta("model_identity")
    while isinstance(identity, dict):
        if isinstance(identity.get("base_url"), str):
            return identity["base_url"]
        identity = identity.get("inner")
    return None


def stored_guard_settings(run_dir: Path) -> GuardSettings | None:
    if not (run_dir / STORE_NAME).exists():
        return None
    with RunStore.in_dir(run_dir) as store:
        data = store.get_meta("guard")
    return None if data is None else GuardSettings.from_dict(data)


def _guarded(spec: str) -> bool:
    return spec.startswith("guard/")


async def evaluate_async(config: RunConfig, run_dir: Path | None = None, options: RunOptions | None = None,
                         model_object: Model | None = None) -> RunResult:
    """`model_object`: the model itself, when given as an object (the Python API) rather than by its spec;
    the caller owns it, so it is not closed here."""
    options = options or RunOptions()
    run_dir = Path(run_dir) if run_dir is not None else config.default_run_dir()
    if _guarded(config.model):
        # A resumed guarded run guards as it started, except where new --guard-* options say otherwise.
        stored_guard = stored_guard_settings(run_dir)
        if stored_guard is not None:
            given = options.model.guard
            merged = stored_guard if given is None else given.over(stored_guard)
            options = replace(options, model=replace(options.model, guard=merged))
    task = get_task(config.benchmark, config.task_options, RunContext(image_roots=options.image_roots))
    timings: dict[str, float] = {}
    started = time.monotonic()
    # Another process on this directory stops this one before any work, loading the model included; a
    # new directory is locked once its data is validated (below), so that bad input creates nothing.
    lock = RunDirLock(run_dir)
    if run_dir.is_dir():
        lock.acquire()
    try:
        # Resolve the model and judge before touching the store, so a typo creates nothing.
        model = model_object or get_model(config.model, options.model)
        judge = get_judge(config.judge, options.judge_model, options.judge_template) if _labels(task) else None
        calibration = _calibration(options.judge_calibration, judge)
    except BaseException:
        lock.release()
        raise
    try:
        fresh = None
        if not (run_dir / STORE_NAME).exists():
            # Load and validate before creating anything, so bad input leaves no half-made run behind.
            fresh = task.load(config.data, config.split, config.revision, config.selection)
        lock.acquire()
        with RunStore.in_dir(run_dir) as store:
            stored = store.get_meta("config")
            if stored is not None:
                check_resumable(stored, config, run_dir)
            else:
                items, info = fresh or task.load(config.data, config.split, config.revision, config.selection)
                store.add_items(items)
                store.set_meta("dataset", info.to_dict())
                store.set_meta("config", config.to_dict())
                # cares.results.build.now_utc's format, without importing the results builder this early.
                store.set_meta("created_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))
                store.set_meta("selection_notes", selection_notes(config.selection, len(items)))
            # The store holds the items now: the loaded copy goes, so that at most one is ever held.
            fresh = None
            items = store.items()
            identity = model.identity()
            # The same task, now hashing images through the store's cache of file digests.
            task = get_task(config.benchmark, config.task_options,
                            RunContext(image_roots=options.image_roots, hash_file=store.file_sha256))
            links, skipped = _build_requests(task, items, config, identity)
            groups = [item.group for item in items]
            del items  # the requests are built; what follows reads items from the store as it needs them
            store.add_item_requests(links)
            store.set_meta("skipped", skipped)
            _note_identity_change(store.get_meta("model_identity"), identity, config.model)
            store.set_meta("model_identity", identity)
            # Local-model settings (dtype, device...) are reused by `cares resume` unless given again.
            store.set_meta("model_args", [list(pair) for pair in options.model.extra])
            if _guarded(config.model):
                store.set_meta("guard", (options.model.guard or GuardSettings()).to_dict())
            timings["load_s"] = time.monotonic() - started

            mark = time.monotonic()
            recipe = ModelRecipe.of(config.model, options.model, options.engine.executor.model_key_env)
            warming = warm_later_stages(judge, task, groups, config.bootstrap, config.seed, store.path)
            del groups
            try:
                gen_stats, reuse = await answer_all(model, links, store, options.engine, options.answer_cache,
                                                    options.answer_cache_path, config.seed, recipe)
            finally:
                warming.join()  # also on a failure or Ctrl-C: its judging holds a connection to the store
            del links  # every outcome is stored; judging and exports read them from there
            timings["generate_s"] = time.monotonic() - mark

            mark = time.monotonic()
            judge_stats = await _judge(store, judge, options) if judge is not None else None
            used = await task.score_stage(store, _score_rows(store, task), config, options)
            store.set_meta("scorers_used", used)
            timings["judge_s"] = time.monotonic() - mark
            judge_id = judge.id if judge is not None else "readers"
            store.set_meta("active_judge", judge_id)
            if calibration is not None:
                from cares.judges.calibration import CALIBRATION_META

                store.set_meta(CALIBRATION_META, calibration)
            return _finish(store, run_dir, config, judge_id, timings, started, gen_stats, judge_stats, reuse)
    finally:
        lock.release()
        if model_object is None:
            await model.aclose()
        if judge is not None:
            await judge.aclose()


def _calibration(path: Path | None, judge: Any) -> dict[str, Any] | None:
    """The judge's validation record to store with the run, checked to be this judge's own."""
    if path is None:
        return None
    if judge is None:
        raise ConfigError("--judge-calibration corrects judge labels; this benchmark's answers are read by readers")
    from cares.judges.calibration import load_calibration

    record = load_calibration(path)
    if record.judge != judge.id:
        raise ConfigError(f"{path} validates judge {record.judge!r}, but this run is judged by {judge.id!r}; "
                          f"validate this judge with `cares judge validate FILE --judge ...`")
    return record.to_meta()


def _note_identity_change(before: dict[str, Any] | None, now: dict[str, Any], spec: str) -> None:
    """Cached answers belong to the model that gave them: say so when a resume will not reuse them."""
    if before is None or before == now:
        return
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    log.info("%s is not the model this run started with (changed: %s); its answers are asked again and the "
             "earlier ones stay in the store", spec, ", ".join(changed))


def _labels(task: Task) -> bool:
    """Whether the task's answers are labelled by a judge (CARES-18K) or read by its own readers."""
    return task.needs_label_judge


def _build_requests(
    task: Task, items: list[Any], config: RunConfig, identity: dict[str, Any]
) -> tuple[list[tuple[str, str, str, Any]], dict[str, dict[str, str]]]:
    task.prepare(items)
    links: list[tuple[str, str, str, Any]] = []
    skipped: dict[str, dict[str, str]] = {}
    for item in items:
        try:
            requests = task.requests(item, config.params)
        except SkipItem as exc:
            # A missing or unreadable image skips its item; the count goes in the results.
            skipped[item.id] = {"kind": exc.kind, "message": str(exc)}
            continue
        links.extend((item.id, variant, request.cache_key(identity), request) for variant, request in requests.items())
    return links, skipped


async def rescore_async(run_dir: Path, judge_spec: str, options: RunOptions | None = None) -> RunResult:
    """Judge a finished run again with another judge: zero calls to the evaluated model."""
    options = options or RunOptions()
    config = stored_config(run_dir)
    if not _labels(get_task(config.benchmark, config.task_options)):
        raise ConfigError(f"{config.benchmark} answers are read by deterministic readers; there is nothing to rescore")
    config = RunConfig.from_dict({**config.to_dict(), "judge": judge_spec})
    judge = get_judge(judge_spec, options.judge_model, options.judge_template)
    calibration = _calibration(options.judge_calibration, judge)
    started = time.monotonic()
    try:
        with RunDirLock(run_dir), RunStore.in_dir(run_dir) as store:
            judge_stats = await _judge(store, judge, options)
            _keep_results_of_a_complete_judge(store, run_dir, judge.id, judge_stats)
            store.set_meta("config", config.to_dict())
            store.set_meta("active_judge", judge.id)
            if calibration is not None:
                from cares.judges.calibration import CALIBRATION_META

                store.set_meta(CALIBRATION_META, calibration)
            timings = {"judge_s": time.monotonic() - started}
            return _finish(store, run_dir, config, judge.id, timings, started, None, judge_stats)
    finally:
        await judge.aclose()


class IncompleteJudging(CaresError):
    """A rescore whose judge left answers unlabelled: the run keeps reporting its previous judge."""

    exit_code = 3


def _keep_results_of_a_complete_judge(
    store: RunStore, run_dir: Path, judge_id: str, stats: EngineStats | None
) -> None:
    """Refuse to switch a run's results to a judge that has not labelled every answer.

    Labels that did arrive stay stored, so running the rescore again asks only for the rest."""
    from cares.report.outputs import RESULTS_NAME

    previous = store.get_meta("active_judge")
    if previous in (None, judge_id) or not (run_dir / RESULTS_NAME).is_file():
        return  # nothing better to keep: the partial results are the best this run has
    answered = {key for _, _, key, _ in store.item_requests()} & store.answered_keys()
    missing = len(answered - set(store.judgements(judge_id)))
    if not missing:
        return
    errors = ", ".join(f"{kind} ({n})" for kind, n in (stats.errors if stats else {}).items()) or "no reason recorded"
    raise IncompleteJudging(
        f"{judge_id} labelled {len(answered) - missing} of {len(answered)} answers; its calls failed for "
        f"{missing} ({errors}). {run_dir / RESULTS_NAME} still reports {previous}; the labels received are "
        "stored, and running the same rescore again asks only for the rest"
    )


def export(run_dir: Path, judge_id: str | None = None) -> RunResult:
    """Rebuild results.json and samples.jsonl from the store alone."""
    config = stored_config(run_dir)
    with RunDirLock(run_dir), RunStore.in_dir(run_dir) as store:
        judge_id = judge_id or store.get_meta("active_judge")
        known = store.judges()
        if judge_id is None:
            judge_id = _judge_before_judging(run_dir, config)
        elif judge_id != "readers" and judge_id not in known:
            raise ConfigError(f"{run_dir} has no judgements by {judge_id!r}; it has: {', '.join(known) or 'none'}")
        return _finish(store, run_dir, config, judge_id, {}, time.monotonic(), None, None)


def _judge_before_judging(run_dir: Path, config: RunConfig) -> str:
    """The judge a run stopped before reaching: its answers export, labelled by nobody yet."""
    if config.benchmark == "cares-vqa":
        return "readers"
    if config.judge == "rules":
        return get_judge("rules").id
    raise ConfigError(f"{run_dir} stopped before its judge ({config.judge}) ran; `cares resume {run_dir}` "
                      f"judges it, or `cares rescore {run_dir} --judge rules` labels it offline")


def _score_rows(store: RunStore, task: Task) -> list[Any]:
    """The rows for the task's score stage, read only where that stage reads them."""
    if not task.score_stage_reads_rows:
        return []
    from cares.report.outputs import collect_rows

    return collect_rows(store, None)


async def _judge(store: RunStore, judge: Any, options: RunOptions) -> EngineStats | None:
    from cares.judges.cascade import CascadeJudge
    from cares.judges.llm import LLMJudge
    from cares.runner.judging import JudgeInput, judge_pending

    # Only what this judge has not labelled, straight from the store: no item or request is decoded.
    inputs = [JudgeInput(key, prompt, text) for key, prompt, text in store.unjudged_answers(judge.id)]
    recipe = None
    llm = judge.llm if isinstance(judge, CascadeJudge) else judge
    if isinstance(llm, LLMJudge):
        recipe = ModelRecipe.of(llm.model.spec, options.judge_model, options.engine.executor.judge_key_env)
    return await judge_pending(judge, inputs, store, options.engine, recipe)


def _finish(
    store: RunStore,
    run_dir: Path,
    config: RunConfig,
    judge_id: str,
    timings: dict[str, float],
    started: float,
    gen_stats: EngineStats | None,
    judge_stats: EngineStats | None,
    reuse: Reuse | None = None,
) -> RunResult:
    from cares.judges.calibration import CALIBRATION_META
    from cares.report.outputs import collect_rows, write_results, write_samples
    from cares.results.build import build_results
    from cares.runner.result import RunResult

    calibration = store.get_meta(CALIBRATION_META)
    if calibration is not None and calibration.get("judge") != judge_id:
        calibration = None  # it describes another of the stored judges
    task = get_task(config.benchmark, config.task_options,
                    RunContext(scorer_ids=store.get_meta("scorers_used") or {}, judge_calibration=calibration))
    mark = time.monotonic()
    rows = collect_rows(store, judge_id if _labels(task) else None)
    metrics = task.metrics(rows, config.bootstrap, config.seed)
    timings["metrics_s"] = time.monotonic() - mark
    mark = time.monotonic()
    write_samples(run_dir, task, rows)
    timings["write_s"] = time.monotonic() - mark
    # results.json goes last and carries the timings, so its presence means the exports are complete.
    timings["total_s"] = time.monotonic() - started
    results = build_results(store, config, judge_id, rows, metrics, gen_stats, judge_stats, reuse, timings)
    write_results(run_dir, results.to_dict())
    return RunResult(run_dir, results)
