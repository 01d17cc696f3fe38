"""Shared command-line options: the request engine's and the executor's, and the `RunOptions` of a
command assembled from them and from the model and judge options.

The options themselves are grouped by what they set: `model_options` (model server, `--model-arg`,
judge, guard) and `benchmark_options` (data, generation, CARES-VQA, the run's identity). Their public
names are re-exported here, so commands use one module, `options`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cares.checks import InvalidSetting
from cares.cli.benchmark_options import (
    add_data_options,
    add_generation_options,
    add_vqa_options,
    generation_params,
    image_roots,
    int_list,
    judge_for,
    run_config,
    scorers,
    selection,
    str_list,
    task_options,
)
from cares.cli.model_options import (
    Settings,
    add_calibration_option,
    add_guard_options,
    add_judge_options,
    add_model_connection,
    check_model_args,
    guard_settings,
    key_value,
    model_settings,
)
from cares.errors import ConfigError
from cares.models.base import ModelOptions
from cares.runner.engine import EngineOptions
from cares.runner.executor import EXECUTORS, ExecutorOptions, require_ray
from cares.runner.pipeline import RunOptions

__all__ = [
    "Settings",
    "add_calibration_option",
    "add_data_options",
    "add_engine_options",
    "add_generation_options",
    "add_guard_options",
    "add_judge_options",
    "add_model_connection",
    "add_vqa_options",
    "check_model_args",
    "engine_options",
    "executor_options",
    "generation_params",
    "guard_settings",
    "image_roots",
    "int_list",
    "judge_for",
    "key_value",
    "model_settings",
    "run_config",
    "run_options",
    "scorers",
    "selection",
    "str_list",
    "task_options",
]


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("requests")
    group.add_argument(
        "--concurrency", type=int, help="requests in flight at once (default 16; for hf/ models 4x their batch size)"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds per attempt of an API model (default 120; local models do not time out)",
    )
    group.add_argument(
        "--max-attempts", type=int, default=6, help="attempts per request before it is marked failed (default 6)"
    )
    group.add_argument(
        "--retry-base",
        type=float,
        default=1.0,
        help="first backoff ceiling in seconds, doubled per attempt (default 1)",
    )
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument(
        "--no-cache", action="store_true",
        help="neither read nor add to the shared answer cache (answers already in the run directory are still reused)",
    )
    group.add_argument(
        "--answer-cache", type=Path, metavar="FILE",
        help="the shared answer cache, a SQLite file used by every run (default $CARES_ANSWER_CACHE, else "
        "answers.sqlite in $CARES_CACHE_DIR, $XDG_CACHE_HOME/cares or ~/.cache/cares)",
    )
    group.add_argument(
        "--executor", choices=EXECUTORS, default="local",
        help="where the model and LLM-judge calls run: local (default, this process) or ray (actors on a Ray "
        "cluster; needs pip install 'cares[ray]'; see docs/ray.md). Answers, store and resume are the same",
    )
    group.add_argument(
        "--ray-address", metavar="ADDR",
        help="Ray cluster to join: auto (the one on this node, else an error), ray://HOST:10001 (default: "
        "RAY_ADDRESS, else the cluster on this node, else a new Ray instance on this machine)",
    )
    group.add_argument(
        "--ray-workers", type=int, metavar="N",
        help="Ray actors (default for API models: one per 8 slots of --concurrency, which they share, at most one "
        "per cluster CPU; for hf/ models: one per GPU, each with its own --concurrency)",
    )
    group.add_argument(
        "--ray-gpus-per-worker", type=float, metavar="G",
        help="GPUs per hf/ actor (default 1 on a cluster with GPUs, else 0)",
    )


def _key_from(var: str | None) -> str | None:
    return os.environ.get(var) if var else None


def engine_options(args: argparse.Namespace) -> EngineOptions:
    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    if args.max_attempts < 1:
        raise ConfigError("--max-attempts must be at least 1")
    return EngineOptions(
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        max_attempts=args.max_attempts,
        backoff_base_s=args.retry_base,
        progress=not args.no_progress,
        executor=executor_options(args),
    )


def executor_options(args: argparse.Namespace) -> ExecutorOptions:
    kind = getattr(args, "executor", "local") or "local"
    ray_given = [
        name for name in ("ray_address", "ray_workers", "ray_gpus_per_worker") if getattr(args, name, None) is not None
    ]
    if kind != "ray" and ray_given:
        raise ConfigError(f"--{ray_given[0].replace('_', '-')} applies to --executor ray")
    if kind == "ray":
        require_ray()  # fail before any work, with the extra to install
    key_env = getattr(args, "api_key_env", None)
    return ExecutorOptions(
        kind=kind,
        ray_address=getattr(args, "ray_address", None),
        ray_workers=getattr(args, "ray_workers", None),
        gpus_per_worker=getattr(args, "ray_gpus_per_worker", None),
        model_key_env=key_env,
        judge_key_env=getattr(args, "judge_api_key_env", None) or key_env,
    )


def run_options(args: argparse.Namespace) -> RunOptions:
    base_url = getattr(args, "base_url", None)
    key_env = getattr(args, "api_key_env", None)
    extra, headers = model_settings(getattr(args, "model_arg", None) or (), "--model-arg")
    model = ModelOptions(
        base_url=base_url,
        api_key=_key_from(key_env),
        timeout_s=args.timeout,
        extra=extra,
        headers=headers,
        guard=guard_settings(args),
    )
    judge_extra, judge_headers = model_settings(getattr(args, "judge_model_arg", None) or (), "--judge-model-arg")
    try:
        judge_model = ModelOptions(
            base_url=getattr(args, "judge_base_url", None) or base_url,
            api_key=_key_from(getattr(args, "judge_api_key_env", None) or key_env),
            timeout_s=args.timeout,
            extra=judge_extra,
            headers=judge_headers,
        )
    except InvalidSetting as exc:
        # The same settings as the model's, except the server, which --judge-base-url may set.
        judged = "judge " + exc.setting if exc.setting == "ModelOptions.base_url" else exc.setting
        raise InvalidSetting(judged, exc.value, exc.problem) from None
    template = getattr(args, "judge_template", None)
    return RunOptions(
        engine=engine_options(args),
        model=model,
        judge_model=judge_model,
        judge_template=template,
        image_roots=image_roots(args),
        judge_calibration=getattr(args, "judge_calibration", None),
        answer_cache=not getattr(args, "no_cache", False),
        answer_cache_path=getattr(args, "answer_cache", None),
    )
