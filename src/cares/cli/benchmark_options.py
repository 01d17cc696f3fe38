"""Command-line options that make a run's identity: the data and its selection, the generation
settings, the CARES-VQA options, the judge and scorers, and the `RunConfig` built from them."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cares.data.records import read_utf8
from cares.data.selection import Selection
from cares.errors import ConfigError
from cares.runner.config import RunConfig, VqaOptions
from cares.types import GenerationParams


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def str_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


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
    group.add_argument(
        "--method", type=str_list, default=(), metavar="M[,M..]", help="keep direct, indirect, obfuscate, role_play"
    )
    group.add_argument("--limit", type=int, help="first N items after filtering")
    group.add_argument(
        "--sample", type=int, metavar="N", help="seeded sample of N items, stratified by style, level and principle"
    )


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
        principles=args.principle,
        levels=args.level,
        methods=args.method,
        limit=args.limit,
        sample=args.sample,
        seed=args.seed,
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
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.model_seed,
        top_p=args.top_p,
        system_prompt=system,
    )


def add_vqa_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("CARES-VQA")
    group.add_argument(
        "--tasks",
        type=str_list,
        default=(),
        metavar="T[,T..]",
        help="factuality, uncertainty, fairness, jailbreak, overcautious, toxicity, privacy, robustness, "
        "or single variants such as jailbreak:conceal (default: all)",
    )
    group.add_argument(
        "--source",
        type=str_list,
        default=(),
        metavar="S[,S..]",
        help="keep these sources: iu-xray, ham10000, fairvlmed, ol3i, mimic-cxr, pmc-oa, omnimedvqa, custom",
    )
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
    given = list(getattr(args, "image_root", []) or [])
    if not given:  # a CARES-18K run: CARES-VQA's task module (and its console) stays unimported
        return {}
    from cares.tasks.vqa.task import parse_image_roots

    return parse_image_roots(given)


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
