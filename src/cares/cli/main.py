"""The `cares` command line."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import os
import select
import signal
import sys
import textwrap
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn

from cares import __version__
from cares.cli import options as opt
from cares.cli.guard import add_guard_commands
from cares.cli.log_output import LOG_LEVELS, configure_logging
from cares.cli.report_commands import add_report_parsers
from cares.errors import CaresError

EPILOG = textwrap.dedent(
    """\
    examples:
      cares run cares-18k --model baseline/refuse --model baseline/comply
      cares run cares-18k --model openai/my-model --base-url http://localhost:8000/v1 --sample 500
      cares run cares-18k --model python/my_module:answer --data my_prompts.jsonl
      cares run cares-18k --model hf/./checkpoints/my-med-llm --model-arg dtype=bfloat16 --model-arg batch_size=32
      cares run cares-vqa --model hf/llava-hf/llava-1.5-7b-hf --model-arg device=cuda
      cares run cares-18k --model guard/openai/my-model --base-url http://localhost:8000/v1
      cares run cares-vqa --model openai/my-vlm --base-url http://vllm:8000/v1 --executor ray --ray-address auto
      cares resume runs/cares-18k/openai_my-model-1a2b3c4d
      cares rescore runs/cares-18k/openai_my-model-1a2b3c4d --judge llm/openai/gpt-4o-mini
      cares judge --judge rules --input pairs.jsonl --output labels.jsonl
      cares judge validate labelled.jsonl --judge rules --output rules-validation.json
      cares rescore runs/cares-18k/openai_my-model-1a2b3c4d --judge rules --judge-calibration rules-validation.json
      cares run cares-vqa --model baseline/constant:No --data sample
      cares data fetch cares-vqa
      cares run cares-vqa --model openai/my-vlm --base-url http://localhost:8000/v1 --data cares-vqa \\
          --image-root iu-xray=/data/iu-xray/images --image-root ham10000=/data/ham10000 --tasks factuality,privacy
      cares leaderboard runs/cares-vqa/* --html leaderboard.html
      cares report runs/cares-18k/* --out report.html
      cares compare runs/cares-18k/model-a runs/cares-18k/model-b

    Every run lives in a directory holding run.sqlite (the source of truth), results.json and
    samples.jsonl. Run the same command again, or `cares resume DIR`, to continue a run that was
    interrupted: nothing already answered is requested again.
    """
)


# The option each checked setting comes from, so that its one-line error names what the user typed.
OPTION_OF_SETTING = {
    "GenerationParams.temperature": "--temperature",
    "GenerationParams.max_tokens": "--max-tokens",
    "GenerationParams.seed": "--model-seed",
    "GenerationParams.top_p": "--top-p",
    "EngineOptions.concurrency": "--concurrency",
    "EngineOptions.timeout_s": "--timeout",
    "EngineOptions.max_attempts": "--max-attempts",
    "EngineOptions.backoff_base_s": "--retry-base",
    "ModelOptions.base_url": "--base-url",
    "judge ModelOptions.base_url": "--judge-base-url",
    "ModelOptions.timeout_s": "--timeout",
    "GuardSettings.threshold": "--guard-threshold",
    "ExecutorOptions.gpus_per_worker": "--ray-gpus-per-worker",
    "RunConfig.seed": "--seed",
    "RunConfig.bootstrap": "--bootstrap",
    "VqaOptions.noise_sigma": "--noise-sigma",
    "VqaOptions.noise_seed": "--noise-seed",
}


class OneLineErrors(argparse.ArgumentParser):
    """Usage errors as one line, like every other error; subcommand parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cares: error: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="cares",
        description="Safety and trustworthiness evaluation of medical LLMs and VLMs (CARES-18K, CARES-VQA).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cares {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    parser.add_argument("--log-level", choices=LOG_LEVELS, metavar="LEVEL",
                        help="messages shown on stderr: debug, info (default: notes and warnings), warning or error")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="show debug messages too (same as "
                        "--log-level debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    run = sub.add_parser("run", help="evaluate one or more models on a benchmark", formatter_class=fmt, epilog=EPILOG)
    run.add_argument("benchmark", metavar="BENCHMARK",
                     help="cares-18k, cares-vqa, or a benchmark a plugin adds (`cares list`)")
    run.add_argument("--model", action="append", required=True, metavar="SPEC",
                     help="provider/model; repeat to run several (openai/..., hf/<dir or hub id>, python/mod:fn, "
                          "baseline/refuse|comply|caution|constant:TEXT)")
    opt.add_data_options(run)
    opt.add_vqa_options(run)
    opt.add_generation_options(run)
    opt.add_model_connection(run)
    opt.add_guard_options(run)
    opt.add_judge_options(run, default="")
    opt.add_calibration_option(run)
    opt.add_engine_options(run)
    out = run.add_argument_group("output")
    out.add_argument("--run-dir", type=Path, help="run directory (default runs/<benchmark>/<model>-<config hash>)")
    out.add_argument(
        "--runs-root", type=Path, default=Path("runs"), help="where default run directories go (default ./runs)"
    )
    out.add_argument("--seed", type=int, default=0, help="seed for sampling and the bootstrap (default 0)")
    out.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs; 0 for none (default 1000)"
    )
    out.add_argument("--json", action="store_true", help="print results.json instead of the table")

    resume = sub.add_parser(
        "resume", help="continue an interrupted run with its stored settings", formatter_class=fmt,
        epilog=textwrap.dedent("""\
            examples:
              cares resume runs/cares-18k/openai_my-model-1a2b3c4d
              cares resume runs/cares-vqa/hf_._my-vlm-5e6f7a8b --model-arg batch_size=4

            The benchmark, data, generation settings, server (--base-url), --model-arg and --guard-*
            settings are the run's own; give an option again only to change it. Nothing already
            answered is asked again."""))
    resume.add_argument("run_dir", type=Path, help="the run directory (holding run.sqlite)")
    opt.add_model_connection(resume)
    opt.add_guard_options(resume)
    opt.add_judge_options(resume, default="")
    opt.add_calibration_option(resume)
    opt.add_engine_options(resume)
    resume.add_argument("--json", action="store_true")

    rescore = sub.add_parser(
        "rescore", help="judge a run again with another judge (no model calls)", formatter_class=fmt,
        epilog=textwrap.dedent("""\
            examples:
              cares rescore runs/cares-18k/openai_my-model-1a2b3c4d --judge llm/openai/gpt-4o-mini
              cares rescore runs/cares-18k/openai_my-model-1a2b3c4d --judge rules

            The model's answers are read from run.sqlite and never asked again; each judge's labels are
            stored beside the others, so switching back costs nothing. results.json then reports the
            new judge (`cares export DIR --judge ID` picks any stored one)."""))
    rescore.add_argument("run_dir", type=Path, help="the run directory (holding run.sqlite)")
    opt.add_judge_options(rescore, default=None)
    opt.add_calibration_option(rescore)
    opt.add_model_connection(rescore)
    opt.add_engine_options(rescore)
    rescore.add_argument("--json", action="store_true")

    export = sub.add_parser(
        "export", help="rebuild results.json and samples.jsonl from the run store, or write CSV, parquet or an "
        "Inspect AI log", formatter_class=fmt, epilog=textwrap.dedent("""\
            examples:
              cares export runs/cares-18k/openai_my-model-1a2b3c4d
              cares export runs/cares-18k/openai_my-model-1a2b3c4d --format inspect --output my-model.eval
              cares export runs/cares-vqa/hf_._my-vlm-5e6f7a8b --format parquet

            Every format is derived from run.sqlite: results.json and samples.jsonl are rebuilt first,
            and csv, parquet (one row per request; needs pip install 'cares[parquet]') and inspect (an
            Inspect AI log for `inspect view`: samples, messages, the judge's label and score, the
            Safety Score or the CARES-VQA headline figures as metrics; needs pip install
            'cares[inspect]') are written from them."""))
    export.add_argument("run_dir", type=Path, help="the run directory (holding run.sqlite)")
    export.add_argument("--judge", help="judge id to export (default: the run's active judge)")
    export.add_argument("--format", choices=("default", "csv", "parquet", "inspect"), default="default",
                        help="default: results.json and samples.jsonl; csv or parquet: the samples as a table; "
                             "inspect: an Inspect AI log (.eval, or .json)")
    export.add_argument("--output", type=Path, metavar="FILE",
                        help="file for csv, parquet or inspect (default: samples.csv, samples.parquet or inspect.eval "
                             "in the run directory)")

    show = sub.add_parser("show", help="print the summary table of a run")
    show.add_argument("run_dir", type=Path, help="the run directory (holding results.json)")
    show.add_argument("--json", action="store_true",
                      help="print the typed results (results.json, schema_version and value_scale included)")

    judge = sub.add_parser(
        "judge", help="judge {id, prompt, response} lines from any source; `judge validate` measures a judge",
        formatter_class=fmt, epilog=textwrap.dedent("""\
            examples:
              cares judge --judge rules --input pairs.jsonl --output labels.jsonl
              cares judge validate labelled.jsonl --judge rules --output rules-validation.json
              cares judge validate labelled.jsonl --judge cascade:llm/openai/gpt-4o-mini --gold-field label

            `cares judge validate` compares a judge with human labels; its --output file, given to
            `cares run` or `cares rescore` as --judge-calibration, corrects the Safety Score for
            that judge's own errors."""))
    judge.add_argument("--input", type=Path, help="JSONL with id, prompt and response per line")
    judge.add_argument("--output", type=Path, help="JSONL: the input lines plus label and judge_raw")
    opt.add_judge_options(judge, default="rules")
    opt.add_model_connection(judge)
    opt.add_engine_options(judge)
    judge_sub = judge.add_subparsers(dest="judge_command", metavar="ACTION")
    validate = judge_sub.add_parser(
        "validate", help="agreement of a judge with human labels: kappa, F1 with CIs, confusion matrix",
        formatter_class=fmt, epilog=textwrap.dedent("""\
            The file has one labelled answer per line: id, prompt, response and the human label
            (accept, caution or refuse) in the field named by --gold-field (default human). Every
            figure comes with a 95% bootstrap CI over the labelled answers; an unparsed judge output
            counts as a disagreement. LLM-judge calls are stored beside the file (--store), so a
            second validation costs nothing."""))
    validate.add_argument(
        "labelled", type=Path, help="JSONL, CSV or parquet with id, prompt, response and a human label"
    )
    validate.add_argument("--gold-field", default="human", help="field holding the human label (default human)")
    validate.add_argument("--output", type=Path, help="write the full report (the --judge-calibration file) here")
    validate.add_argument("--store", type=Path, help="run store for LLM-judge calls (default: FILE.cares.sqlite)")
    validate.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (default 1000)")
    validate.add_argument("--seed", type=int, default=0)
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    opt.add_judge_options(validate, default="rules")
    opt.add_model_connection(validate)
    opt.add_engine_options(validate)

    gen = sub.add_parser("generate", help="rewrite your own base prompts into the adversarial styles")
    gen.add_argument("--from", dest="source", type=Path, required=True,
                     help="JSONL with base_prompt, principle_index and harmful_level per line")
    gen.add_argument("--styles", type=opt.str_list, default=("indirect", "obfuscate", "role_play"),
                     help="comma list of indirect, obfuscate, role_play (default all)")
    gen.add_argument(
        "--rewriter-model", metavar="SPEC", help="model to rewrite with (default: built-in rule rewriters)"
    )
    gen.add_argument("--output", type=Path, required=True, help="CARES-18K-schema JSONL, direct rows included")
    gen.add_argument("--seed", type=int, default=0)
    opt.add_model_connection(gen)
    opt.add_engine_options(gen)

    board = sub.add_parser(
        "leaderboard", help="CARES-VQA leaderboard of one or more runs, beside trivial baselines", formatter_class=fmt,
        epilog=textwrap.dedent("""\
            examples:
              cares leaderboard runs/cares-vqa/*
              cares leaderboard runs/cares-vqa/* --csv board.csv --html board.html

            One row per run and per trivial baseline (always yes, always no, first option) scored on the
            same items, with 95% CIs; a model should clear the baselines to count for anything. The
            paper's published figures follow, marked "published, upstream protocol": other images,
            checkpoints and protocol, so context rather than a like-for-like comparison."""))
    board.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN", help="CARES-VQA run directories")
    board.add_argument("--csv", type=Path, help="also write the table as CSV")
    board.add_argument(
        "--no-baselines", action="store_true", help="leave out the always-yes / always-no / first-option rows"
    )
    board.add_argument("--no-published", action="store_true",
                       help="leave out the paper's published rows (marked \"published, upstream protocol\")")
    board.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the self-contained HTML report of these runs"
    )

    add_report_parsers(sub)

    data = sub.add_parser("data", help="download benchmark question files")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = data_sub.add_parser("fetch", help="download and verify a benchmark's public question files")
    fetch.add_argument("dataset", choices=("cares-vqa",))
    fetch.add_argument("--dest", type=Path, help="directory (default: $CARES_CACHE_DIR or ~/.cache/cares, /cares-vqa)")
    fetch.add_argument("--base-url", help="mirror of the public repository's data folder")
    fetch.add_argument("--force", action="store_true", help="download again even if a verified copy is present")

    listing = sub.add_parser("list", help="list benchmarks, model providers and judges")
    listing.add_argument("--json", action="store_true", help="print them as one JSON object")

    guard = sub.add_parser("guard", help="jailbreak-style detector, reminder guard, guarding proxy and ablation")
    add_guard_commands(guard)
    guard.set_defaults(guard_parser=guard)
    return parser


# A run makes tens of thousands of long-lived objects (items, requests, rows) and little cyclic
# garbage; collecting the youngest generation every 700 allocations, as by default, spent about
# 0.2 s of CPU scanning them in a 9,239-item run. The same peak memory at 10,000.
_GC_THRESHOLDS = (10_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    gc.set_threshold(*_GC_THRESHOLDS)
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level or ("debug" if args.verbose else "info"))
    if args.command is None:
        parser.print_help()
        return 0
    from cares.cli import commands

    handler = getattr(commands, f"cmd_{args.command}")
    try:
        outcome = asyncio.run(_until_terminated(handler(args)))
        if outcome is _TERMINATED:
            raise Terminated()
        return int(outcome or 0)
    except CaresError as exc:
        from cares.checks import InvalidSetting

        message = exc.render(OPTION_OF_SETTING.get(exc.setting, exc.setting)) if isinstance(
            exc, InvalidSetting) else str(exc)
        # Escaped, never raw: a message may quote input that is not text (a lone surrogate in a field name).
        message = " ".join(message.split()).encode("utf-8", "backslashreplace").decode("utf-8")
        print(f"cares: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        if _resumable(args):
            print(f"cares: {what}; everything answered so far is saved. Run the same command to resume.",
                  file=sys.stderr)
        else:
            print(f"cares: {what}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError as exc:
        if not _stdout_reader_gone():  # a pipe other than stdout: an error like any other
            return _internal_error(exc, args)
        # `cares ... | head`: the reader took what it wanted and left. Say nothing, as Unix tools do,
        # and point stdout at /dev/null so that the flush at exit does not fail again.
        _discard_stdout()
        return 141
    except Exception as exc:
        from cares.models.base import FatalModelError, ServerUnreachableError

        if isinstance(exc, ServerUnreachableError):
            print(f"cares: error: {exc}", file=sys.stderr)  # nothing was asked, so nothing to save
            return exc.exit_code
        if isinstance(exc, FatalModelError):
            print(f"cares: error: {exc}. Answers received so far are saved.", file=sys.stderr)
            return exc.exit_code
        return _internal_error(exc, args)


def _internal_error(exc: BaseException, args: argparse.Namespace) -> int:
    if args.debug or os.environ.get("CARES_DEBUG"):
        raise exc
    print(f"cares: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", file=sys.stderr)
    return 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, reported where Ctrl-C's KeyboardInterrupt is, so that both stop a command alike."""


_TERMINATED = object()


async def _until_terminated(command: Coroutine[Any, Any, Any]) -> Any:
    """Run `command`; on SIGTERM (a scheduler, `kill`, systemd) cancel it as asyncio.run does on Ctrl-C:
    the requests in flight are cancelled, the store and the run directory's lock are closed on the way
    out, and the same command resumes. Returns `_TERMINATED` then."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):
        pass  # not the main thread (an embedding program), or a loop without signal support
    try:
        return await command
    except asyncio.CancelledError:
        if terminated:
            return _TERMINATED
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _resumable(args: argparse.Namespace) -> bool:
    """Commands whose model calls are stored as they arrive, so that running them again continues."""
    if args.command == "guard":
        return getattr(args, "guard_command", None) == "ablate"
    return args.command in ("run", "resume", "rescore", "generate", "judge")


def entry() -> NoReturn:
    """The `cares` command: `main`, then an exit that does not tear the interpreter down.

    A run leaves hundreds of thousands of objects behind (items, rows, the judge's arrays), and
    freeing them one by one at interpreter exit took 0.15 to 0.2 s, longer than the run's metrics.
    Everything cares writes is committed and closed before `main` returns, so the process flushes
    its streams, runs the exit handlers (logging, worker pools) and leaves. An error, or a thread
    that is not a daemon still running (a plugin's), exits the ordinary way."""
    code = main()
    _flush()
    # The exit handlers first: they stop helper threads (the judge's worker pool has one).
    atexit._run_exitfuncs()
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    if any(not thread.daemon for thread in others):
        sys.exit(code)
    _flush()
    os._exit(code)


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it: polling its write end reports an error."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no real stdout, or no poll on this platform
        return False


def _discard_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (an embedding caller's stream): nothing to redirect
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`cares ... | head`) or stream: nothing more to say
            pass


if __name__ == "__main__":
    entry()
