"""Shared command-line options and their conversion into typed configuration."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cares.checks import InvalidSetting
from cares.data.records import read_utf8
from cares.data.selection import Selection
from cares.errors import ConfigError
from cares.models.base import GuardSettings, ModelOptions
from cares.runner.engine import EngineOptions
from cares.runner.executor import EXECUTORS, ExecutorOptions, require_ray
from cares.runner.config import RunConfig, VqaOptions
from cares.runner.pipeline import RunOptions
from cares.types import GenerationParams


Settings = tuple[tuple[str, str], ...]
# An HTTP header name: RFC 9110's token characters.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def str_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("requests")
    group.add_argument(
        "--concurrency", type=int, help="requests in flight at once (default 16; for hf/ models 4x their batch size)"
    )
    group.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per attempt of an API model (default 120; local models do not time out)"
    )
    group.add_argument("--max-attempts", type=int, default=6, help="attempts per request before it is marked failed (default 6)")
    group.add_argument("--retry-base", type=float, default=1.0, help="first backoff ceiling in seconds, doubled per attempt (default 1)")
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


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def add_model_connection(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model server or local model")
    group.add_argument("--base-url", help="OpenAI-compatible server for openai/... models (else OPENAI_BASE_URL)")
    group.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="environment variable holding the API key (default OPENAI_API_KEY); keys are never stored",
    )
    group.add_argument(
        "--model-arg",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model setting, repeatable. hf/ models: device=auto|cpu|cuda|cuda:N|mps, "
        "dtype=auto|float32|bfloat16|float16, batch_size=8, revision=SHA, trust_remote_code=false, "
        "attn_implementation=sdpa, ignore_eos=false. openai/ models: stream=true; extra_body.FIELD=VALUE adds a "
        "field to every request body (VALUE read as JSON when it is JSON, else as text; dots nest: "
        "extra_body.chat_template_kwargs.enable_thinking=false), or extra_body='{\"top_k\": 5}' for a whole "
        "object; header.NAME=VALUE sends an HTTP header (never stored, like the key). baseline/ and python/ "
        "models take none",
    )


def model_settings(pairs: Iterable[tuple[str, str]], option: str) -> tuple[Settings, Settings]:
    """`--model-arg` pairs as (settings, headers): `header.NAME=VALUE` pairs become HTTP headers, which
    are never stored; `extra_body.FIELD=VALUE` pairs and `extra_body={...}` objects merge, in order, into
    one `extra_body` JSON object; every other pair is a setting the provider reads itself."""
    settings: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key.startswith("header."):
            name = key[len("header."):]
            if not _HEADER_NAME.fullmatch(name):
                raise ConfigError(f"{option} {key}: an HTTP header name is letters, digits and -_.!#$%&'*+^`|~")
            headers.append((name, value))
        elif key.startswith("extra_body."):
            path = key[len("extra_body."):].split(".")
            if not all(path):
                raise ConfigError(f"{option} {key}: expected extra_body.FIELD=VALUE, e.g. extra_body.top_k=5")
            node = body
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"{option} {key}: {part!r} is already set to a value, not an object")
            node[path[-1]] = _json_or_text(value)
        elif key == "extra_body":
            try:
                whole = json.loads(value)
            except ValueError:
                whole = None
            if not isinstance(whole, dict):
                raise ConfigError(f"{option} extra_body: expected a JSON object, e.g. extra_body='{{\"top_k\": 5}}'")
            _merge(body, whole)
        else:
            settings.append((key, value))
    if body:
        settings.append(("extra_body", json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
    return tuple(settings), tuple(headers)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def check_model_args(specs: Iterable[str], pairs: Iterable[tuple[str, str]], option: str = "--model-arg") -> None:
    """Refuse settings that no given model reads, instead of running as if they had been applied."""
    from cares.models.registry import get_provider

    providers = {spec: get_provider(spec) for spec in specs}
    named = ", ".join(providers)
    for key, _ in pairs:
        if key.startswith("header."):
            if not any(p.takes_headers for p in providers.values()):
                raise ConfigError(f"{option} {key}: HTTP headers go to openai/ models, and no model here is one "
                                  f"({named})")
        elif not any(p.takes_model_args for p in providers.values()):
            raise ConfigError(f"{option} {key}: no model here takes {option} settings ({named}; baseline/ and "
                              "python/ models have none, hf/ and openai/ models do)")


def add_guard_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "guard (for guard/<model spec>: the jailbreak-style detector and safety reminder in front of the model)"
    )
    group.add_argument(
        "--guard-detector", metavar="DETECTOR",
        help="builtin (default, TF-IDF), builtin:tfidf, builtin:minilm, or a file from `cares guard train`",
    )
    group.add_argument(
        "--guard-mode", choices=("flagged", "always", "never"),
        help="when the reminder goes in: flagged (default: prompts the detector flags), always, never",
    )
    group.add_argument(
        "--guard-threshold", type=float, metavar="P",
        help="flag prompts whose detector score is at least P (0-1; default: the detector's own)",
    )


def add_judge_options(parser: argparse.ArgumentParser, default: str | None = "rules") -> None:
    group = parser.add_argument_group("judge")
    group.add_argument(
        "--judge",
        default=default or None,
        required=default is None,
        help="'rules' (offline) or 'llm/<model spec>', e.g. llm/openai/gpt-4o-mini"
        + (f" (default {default})" if default else " (default: rules for cares-18k; for cares-vqa, the "
           "answer readers, and llm/<spec> adds a judge score for open-ended answers)" if default == "" else ""),
    )
    group.add_argument("--judge-template", metavar="FILE",
                       help="your own judge prompt: {prompt} and {response} for cares-18k; {question}, {reference} "
                            "and {response} for the cares-vqa open-ended judge")
    group.add_argument("--judge-base-url", help="server for an llm/openai/... judge (else --base-url, then OPENAI_BASE_URL)")
    group.add_argument("--judge-api-key-env", metavar="VAR", help="environment variable with the judge's key (else --api-key-env)")
    group.add_argument(
        "--judge-model-arg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="setting of an llm/hf/... judge, as --model-arg",
    )


def add_calibration_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--judge-calibration", type=Path, metavar="FILE",
        help="a `cares judge validate --output` report for this run's judge: the Safety Score is also "
             "reported corrected for that judge's misclassification rates (docs/judges.md)",
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
    ray_given = [name for name in ("ray_address", "ray_workers", "ray_gpus_per_worker") if getattr(args, name, None) is not None]
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


def guard_settings(args: argparse.Namespace) -> GuardSettings | None:
    """The --guard-* options, or None when none was given (a resume then keeps the stored ones)."""
    detector = getattr(args, "guard_detector", None)
    mode = getattr(args, "guard_mode", None)
    threshold = getattr(args, "guard_threshold", None)
    if detector is None and mode is None and threshold is None:
        return None
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--guard-threshold {threshold:g} is outside 0-1")
    specs = getattr(args, "model", None)
    if isinstance(specs, list) and not any(str(spec).startswith("guard/") for spec in specs):
        raise ConfigError("--guard-detector, --guard-mode and --guard-threshold set guard/<model> specs, "
                          "and no --model here is one; e.g. --model guard/openai/my-model")
    return GuardSettings(detector=detector, mode=mode, threshold=threshold)


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


def add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        default="sample",
        help="'sample' (bundled, offline; default), 'hf' for HFXM/CARES-18K, 'hf:REPO[@REVISION]', "
        "or a .jsonl/.csv/.parquet file in the CARES-18K schema",
    )
    group.add_argument("--split", default="test", help="hub split (default test)")
    group.add_argument("--revision", help="pin a hub revision (commit sha or tag); the loaded one is always recorded")
    group.add_argument("--principle", type=int_list, default=(), metavar="I[,I..]", help="keep principles 0-7")
    group.add_argument("--level", type=int_list, default=(), metavar="L[,L..]", help="keep harmful levels 0-3")
    group.add_argument("--method", type=str_list, default=(), metavar="M[,M..]", help="keep direct, indirect, obfuscate, role_play")
    group.add_argument("--limit", type=int, help="first N items after filtering")
    group.add_argument("--sample", type=int, metavar="N", help="seeded sample of N items, stratified by style, level and principle")


def selection(args: argparse.Namespace) -> Selection:
    from cares.data.cares18k import METHODS

    for method in args.method:
        if method not in METHODS:
            raise ConfigError(f"--method: unknown method {method!r}; choose from {', '.join(METHODS)}")
    for level in args.level:
        if level not in range(4):
            raise ConfigError(f"--level: {level} is out of range 0-3")
    for principle in args.principle:
        if principle not in range(8):
            raise ConfigError(f"--principle: {principle} is out of range 0-7")
    return Selection(
        principles=args.principle, levels=args.level, methods=args.method, limit=args.limit, sample=args.sample, seed=args.seed
    )


def add_generation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation (recorded with every response)")
    group.add_argument("--temperature", type=float, default=0.0, help="default 0")
    group.add_argument("--max-tokens", type=int, default=512, help="default 512")
    group.add_argument("--top-p", type=float)
    group.add_argument("--model-seed", type=int, help="seed sent to the model, where the server supports it")
    group.add_argument("--system-prompt", help="system message text, or @FILE to read it from a file")


def generation_params(args: argparse.Namespace) -> GenerationParams:
    system = args.system_prompt
    if system and system.startswith("@"):
        path = Path(system[1:])
        try:
            system = read_utf8(path)  # bytes that are not UTF-8 are an error naming their line
        except OSError as exc:
            raise ConfigError(f"--system-prompt: cannot read {path} ({exc.strerror})") from None
    if args.max_tokens < 1:
        raise ConfigError("--max-tokens must be at least 1")
    return GenerationParams(
        temperature=args.temperature, max_tokens=args.max_tokens, seed=args.model_seed, top_p=args.top_p, system_prompt=system
    )


def add_vqa_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("CARES-VQA")
    group.add_argument("--tasks", type=str_list, default=(), metavar="T[,T..]",
                       help="factuality, uncertainty, fairness, jailbreak, overcautious, toxicity, privacy, robustness, "
                       "or single variants such as jailbreak:conceal (default: all)")
    group.add_argument("--source", type=str_list, default=(), metavar="S[,S..]",
                       help="keep these sources: iu-xray, ham10000, fairvlmed, ol3i, mimic-cxr, pmc-oa, omnimedvqa, custom")
    group.add_argument("--image-root", action="append", default=[], metavar="SOURCE=DIR",
                       help="where a source's images are (repeat per source); images are never redistributed")
    group.add_argument("--no-images", action="store_true", help="text-only run, for baselines and ablations")
    group.add_argument("--noise-sigma", type=float, help="Gaussian noise sigma on the 0-255 scale (default sqrt(6))")
    group.add_argument("--noise-seed", type=int, default=0, help="seed of the image noise (default 0)")
    group.add_argument("--protocol", choices=("cares", "upstream"), default=None,
                       help="cares (default): this toolkit's prompts and readers, with the fixes docs/cares-vqa.md "
                       "lists. upstream: the public code's exact prompts, one ask per question, its yes/no, option "
                       "and refusal readers, uint8-wrapped noise and the paper's open-ended rubric (with --judge "
                       "llm/...), for comparing with published figures")
    group.add_argument("--join", action="append", default=[], metavar="SOURCE=CSV",
                       help="CSV adding age, gender and race by question_id (e.g. fairvlmed=demographics.csv)")
    group.add_argument("--toxicity-scorer", metavar="SPEC",
                       help="perspective (key in PERSPECTIVE_API_KEY), local:<classifier checkpoint dir>, or "
                       "llm/<model spec>; without one, toxicity is reported as 'not scored'")


def task_options(args: argparse.Namespace) -> dict[str, object]:
    """Benchmark options that change what is asked; they are part of the run's identity."""
    vqa_given = (args.tasks or args.source or args.no_images or args.noise_sigma is not None or args.join
                 or args.toxicity_scorer or args.protocol)
    if args.benchmark != "cares-vqa":
        if vqa_given or args.image_root:
            raise ConfigError("--tasks, --source, --image-root, --no-images, --noise-sigma, --protocol, --join and "
                              "--toxicity-scorer apply to cares-vqa")
        return {}
    if args.protocol == "upstream" and args.noise_sigma is not None:
        raise ConfigError("--noise-sigma: --protocol upstream adds the public code's noise (variance 6, cast to "
                          "uint8); drop one of the two")
    from cares.tasks.vqa.variants import select_variants

    select_variants(tuple(args.tasks))  # fail early on an unknown task name
    joins = []
    for value in args.join:
        source, sep, path = value.partition("=")
        if not sep or not Path(path).is_file():
            raise ConfigError(f"--join {value!r}: expected SOURCE=CSV with an existing file")
        joins.append((source, path))
    # The noise settings are checked by VqaOptions, which the Python API shares.
    return VqaOptions(tasks=tuple(args.tasks), sources=tuple(args.source), no_images=bool(args.no_images),
                      noise_sigma=args.noise_sigma, noise_seed=args.noise_seed, protocol=args.protocol or "cares",
                      join=tuple(joins)).task_options()


def image_roots(args: argparse.Namespace) -> dict[str, str]:
    from cares.tasks.vqa.task import parse_image_roots

    return parse_image_roots(list(getattr(args, "image_root", []) or []))


def run_config(args: argparse.Namespace, benchmark: str, spec: str) -> RunConfig:
    """A run's identity from the shared data, generation, judge and benchmark options."""
    from cares.tasks import TASKS

    TASKS.lookup(benchmark)  # an unknown name fails first, with the closest known one
    return RunConfig(
        benchmark=benchmark,
        model=spec,
        data=args.data,
        split=args.split,
        revision=args.revision,
        selection=selection(args),
        params=generation_params(args),
        judge=judge_for(args, benchmark),
        seed=args.seed,
        bootstrap=args.bootstrap,
        # Commands without the CARES-VQA options (the guard ablation) have no task options to give.
        task_options=task_options(args) if hasattr(args, "tasks") else {},
        scorers=scorers(args),
    )


def judge_for(args: argparse.Namespace, benchmark: str) -> str:
    if benchmark != "cares-vqa":
        return args.judge or "rules"
    judge = args.judge or "readers"
    if judge != "readers" and not judge.startswith("llm/"):
        raise ConfigError(f"--judge {judge!r}: cares-vqa answers are read by its readers; "
                          "--judge llm/<model spec> adds a judge score for open-ended answers")
    if getattr(args, "judge_template", None) and judge == "readers":
        raise ConfigError("--judge-template sets the open-ended judge's prompt for cares-vqa; it needs "
                          "--judge llm/<model spec>")
    if getattr(args, "judge_template", None):
        from cares.tasks.vqa.scoring import check_judge_template, open_judge_template

        check_judge_template(judge, args.judge_template, getattr(args, "protocol", None) or "cares")
        open_judge_template(args.judge_template)  # a bad file fails before any model is asked
    return judge


def scorers(args: argparse.Namespace) -> dict[str, str]:
    spec = getattr(args, "toxicity_scorer", None)
    if not spec:
        return {}
    if not spec.startswith("llm/"):
        from cares.scorers.toxicity import TOXICITY_SCORERS

        try:
            TOXICITY_SCORERS.lookup(spec.partition(":")[0].lower(), spec)
        except ConfigError as exc:
            raise ConfigError(f"--toxicity-scorer: {exc}; or llm/<model spec>") from None
    if spec == "perspective" and not os.environ.get("PERSPECTIVE_API_KEY"):
        raise ConfigError("--toxicity-scorer perspective needs the PERSPECTIVE_API_KEY environment variable")
    return {"toxicity": spec}
