"""The typed Python API. The CLI is a thin layer over the same configuration objects.

Every figure these functions return is a fraction in [0, 1], as in results.json (docs/api.md).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from cares.models.base import Model
    from cares.runner.executor import ExecutorOptions
    from cares.runner.pipeline import RunOptions
    from cares.runner.result import RunResult

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion from synchronous code, also where an event loop is already
    running (a Jupyter notebook): there it runs in a worker thread with a loop of its own, since
    the running loop cannot be blocked on from inside itself."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    # Waited on rather than Thread.join: an interrupted join can mark a live thread as finished (CPython 3.11).
    done = threading.Event()

    def work() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(task)
        except BaseException:  # noqa: BLE001 - the caller reads the outcome from the task
            pass
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                done.set()

    threading.Thread(target=work, name="cares-evaluate", daemon=True).start()
    try:
        # Short waits, so that an interrupt (the notebook's stop button) reaches this thread at once.
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        # Cancelled as Ctrl-C cancels `cares run`: requests in flight stop, what was answered is saved.
        loop.call_soon_threadsafe(task.cancel)
        done.wait()
        raise
    return task.result()


async def evaluate_async(
    benchmark: str,
    model: str | Model | Callable[..., Any],
    *,
    data: str = "sample",
    split: str = "test",
    revision: str | None = None,
    judge: str | None = None,
    judge_template: str | None = None,
    judge_base_url: str | None = None,
    judge_calibration: str | Path | None = None,
    # Which items: filters, then either the first `limit` or a seeded stratified `sample`.
    principles: tuple[int, ...] = (),
    levels: tuple[int, ...] = (),
    methods: tuple[str, ...] = (),
    limit: int | None = None,
    sample: int | None = None,
    # Generation settings, recorded with every response.
    temperature: float = 0.0,
    max_tokens: int = 512,
    top_p: float | None = None,
    model_seed: int | None = None,
    system_prompt: str | None = None,
    # The model server or local model.
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    model_args: Mapping[str, str] | None = None,
    # Requests.
    concurrency: int | None = None,
    timeout: float = 120.0,
    max_attempts: int = 6,
    progress: bool = True,
    cache: bool = True,
    answer_cache: str | Path | None = None,
    executor: ExecutorOptions | None = None,
    # Output and statistics.
    run_dir: str | Path | None = None,
    runs_root: str | Path = "runs",
    seed: int = 0,
    bootstrap: int = 1000,
    # CARES-VQA.
    tasks: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    image_roots: Mapping[str, str | Path] | None = None,
    no_images: bool = False,
    noise_sigma: float | None = None,
    noise_seed: int = 0,
    protocol: str = "cares",
    join: Mapping[str, str | Path] | None = None,
    toxicity_scorer: str | None = None,
) -> RunResult:
    """Run `benchmark` ('cares-18k' or 'cares-vqa') on `model` and return its typed result.

    `model` is a spec string ('baseline/refuse', 'openai/gpt-4o-mini', 'hf/./my-checkpoint'), a
    `cares.models.base.Model`, or a Python callable `(messages, params) -> str` (plain, async, or a
    class instantiated once). The keywords are the `cares run` options of the same names (`executor`:
    `--executor` and the `--ray-*` options as one `ExecutorOptions`); bad values
    raise ValueError naming the setting. A run directory already holding this run resumes it: only
    what has no answer is asked. `judge` None: the rules judge for cares-18k, the answer readers for
    cares-vqa."""
    from cares.data.selection import Selection
    from cares.models.base import ModelOptions
    from cares.models.python_object import as_model
    from cares.runner.config import RunConfig, VqaOptions
    from cares.runner.engine import EngineOptions
    from cares.runner.executor import ExecutorOptions
    from cares.runner.pipeline import RunOptions
    from cares.runner.pipeline import evaluate_async as run
    from cares.tasks.vqa.task import parse_image_roots
    from cares.types import GenerationParams

    spec, model_object = as_model(model)
    vqa = benchmark == "cares-vqa"
    task_options = VqaOptions(tuple(tasks), tuple(sources), no_images, noise_sigma, noise_seed, protocol,
                              tuple((source, str(path)) for source, path in (join or {}).items())).task_options() \
        if vqa else {}
    config = RunConfig(
        benchmark=benchmark,
        model=spec,
        data=data,
        split=split,
        revision=revision,
        selection=Selection(principles=tuple(principles), levels=tuple(levels), methods=tuple(methods),
                            limit=limit, sample=sample, seed=seed),
        params=GenerationParams(temperature=temperature, max_tokens=max_tokens, seed=model_seed, top_p=top_p,
                                system_prompt=system_prompt),
        judge=judge or ("readers" if vqa else "rules"),
        seed=seed,
        bootstrap=bootstrap,
        task_options=task_options,
        scorers={"toxicity": toxicity_scorer} if toxicity_scorer else {},
    )
    if not vqa and (tasks or sources or image_roots or no_images or noise_sigma is not None or noise_seed
                    or protocol != "cares" or join or toxicity_scorer):
        raise ValueError(f"tasks, sources, image_roots, no_images, noise_sigma, noise_seed, protocol, join and "
                         f"toxicity_scorer apply to cares-vqa, not {benchmark}")
    api_key = os.environ.get(api_key_env) if api_key_env else None
    # The --model-arg syntax: header.NAME and extra_body.FIELD keys, as on the command line.
    from cares.cli.model_options import model_settings
    from cares.errors import ConfigError

    try:
        extra, headers = model_settings([(key, str(value)) for key, value in (model_args or {}).items()], "model_args")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    # Workers of a Ray executor read the key from their own environment, from the variable named here.
    executor = executor or ExecutorOptions(model_key_env=api_key_env, judge_key_env=api_key_env)
    if executor.kind != "local" and model_object is not None:
        raise ValueError(f"a model given as an object runs in this process; executor {executor.kind!r} needs "
                         "a model spec string that its workers can build")
    options = RunOptions(
        engine=EngineOptions(concurrency=concurrency, timeout_s=timeout, max_attempts=max_attempts, progress=progress,
                             executor=executor),
        model=ModelOptions(base_url=base_url, api_key=api_key, timeout_s=timeout, extra=extra, headers=headers),
        judge_model=ModelOptions(base_url=judge_base_url or base_url, api_key=api_key, timeout_s=timeout),
        judge_template=judge_template,
        image_roots=parse_image_roots([f"{source}={path}" for source, path in (image_roots or {}).items()]),
        judge_calibration=Path(judge_calibration) if judge_calibration is not None else None,
        answer_cache=cache,
        answer_cache_path=Path(answer_cache) if answer_cache is not None else None,
    )
    directory = Path(run_dir) if run_dir is not None else config.default_run_dir(runs_root)
    return await run(config, directory, options, model_object)


def evaluate(
    benchmark: str,
    model: str | Model | Callable[..., Any],
    *,
    data: str = "sample",
    split: str = "test",
    revision: str | None = None,
    judge: str | None = None,
    judge_template: str | None = None,
    judge_base_url: str | None = None,
    judge_calibration: str | Path | None = None,
    principles: tuple[int, ...] = (),
    levels: tuple[int, ...] = (),
    methods: tuple[str, ...] = (),
    limit: int | None = None,
    sample: int | None = None,
    temperature: float = 0.0,
    max_tokens: int = 512,
    top_p: float | None = None,
    model_seed: int | None = None,
    system_prompt: str | None = None,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    model_args: Mapping[str, str] | None = None,
    concurrency: int | None = None,
    timeout: float = 120.0,
    max_attempts: int = 6,
    progress: bool = True,
    cache: bool = True,
    answer_cache: str | Path | None = None,
    executor: ExecutorOptions | None = None,
    run_dir: str | Path | None = None,
    runs_root: str | Path = "runs",
    seed: int = 0,
    bootstrap: int = 1000,
    tasks: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    image_roots: Mapping[str, str | Path] | None = None,
    no_images: bool = False,
    noise_sigma: float | None = None,
    noise_seed: int = 0,
    protocol: str = "cares",
    join: Mapping[str, str | Path] | None = None,
    toxicity_scorer: str | None = None,
) -> RunResult:
    """Run a benchmark on a model and return its typed result; the arguments are `evaluate_async`'s.
    Works in a notebook too, where an event loop is already running."""
    return run_sync(evaluate_async(
        benchmark, model, data=data, split=split, revision=revision, judge=judge, judge_template=judge_template,
        judge_base_url=judge_base_url, judge_calibration=judge_calibration, principles=principles, levels=levels,
        methods=methods, limit=limit, sample=sample, temperature=temperature, max_tokens=max_tokens, top_p=top_p,
        model_seed=model_seed, system_prompt=system_prompt, base_url=base_url, api_key_env=api_key_env,
        model_args=model_args, concurrency=concurrency, timeout=timeout, max_attempts=max_attempts,
        progress=progress, cache=cache, answer_cache=answer_cache, executor=executor, run_dir=run_dir,
        runs_root=runs_root, seed=seed, bootstrap=bootstrap, tasks=tasks, sources=sources, image_roots=image_roots,
        no_images=no_images, noise_sigma=noise_sigma, noise_seed=noise_seed, protocol=protocol, join=join,
        toxicity_scorer=toxicity_scorer,
    ))


def load_run(run_dir: str | Path) -> RunResult:
    """A finished run from its directory, made by `cares run` or `cares.evaluate`: the same RunResult."""
    from cares.runner.result import RunResult

    return RunResult.load(run_dir)


def rescore(run_dir: str | Path, judge: str, options: RunOptions | None = None) -> RunResult:
    """Judge an existing run again with another judge, without calling the evaluated model."""
    from cares.runner.pipeline import rescore_async

    return run_sync(rescore_async(Path(run_dir), judge, options))
