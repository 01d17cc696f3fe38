"""Command handlers: parse options into typed configuration, call the API, print the outcome."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from cares.cli import options as opt
from cares.errors import ConfigError
from cares.runner.config import RunConfig

# Rich and the typed results are imported where a result is shown: a run needs neither to start asking.
if TYPE_CHECKING:
    from rich.console import Console

    from cares.runner.result import RunResult


def _console() -> Console:
    from rich.console import Console

    probe = Console()
    # Piped output (logs, CI) would otherwise be squeezed to 80 columns and truncate the numbers.
    return probe if probe.is_terminal and probe.width >= 110 else Console(width=160)


def show_result(result: RunResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.results, indent=2, ensure_ascii=False))
        return
    from cares.tasks import get_task

    console = _console()
    console.print(get_task(result.benchmark).summary(result.results))
    console.print(closing_line(result.results))
    counts = result.counts
    if counts["failed"]:
        console.print(
            f"[yellow]{counts['failed']} failed requests are excluded; `cares resume {result.run_dir}` retries them[/]"
        )
    if counts.get("unjudged"):
        errors = result.results.get("this_invocation", {}).get("judge_errors") or {}
        why = f" (its calls failed: {', '.join(f'{kind} x{n}' for kind, n in errors.items())})" if errors else ""
        console.print(f"[yellow]{counts['unjudged']} answers have no label from {result.judge}{why} and are excluded; "
                      "run the same command again to judge them (answers are not asked again)[/]")
    if counts.get("skipped_items"):
        console.print(f"[yellow]{counts['skipped_items']} items could not be asked (their image is missing, unreadable "
                      "or outside its root) and are in no figure[/]")
    for line in reuse_lines(result.results):
        # soft_wrap: one line however long the cache path, so logs and scripts can find it whole.
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"results: {result.results_path}\nsamples: {result.samples_path}\n")


def reuse_lines(results: dict[str, Any]) -> list[str]:
    """Where this invocation's answers came from, and what the selection did: reuse is never silent."""
    lines = []
    now = results.get("this_invocation") or {}
    if "reused_from_run_dir" in now:
        cache = now.get("answer_cache")
        where = f"the shared answer cache ({cache})" if cache else "the shared answer cache (off)"
        lines.append(f"answers: {now.get('requested', 0)} asked of the model, {now['reused_from_run_dir']} reused "
                     f"from this run directory, {now.get('reused_from_cache', 0)} from {where}")
    lines.extend(f"note: {note}" for note in results.get("notes") or [])
    return lines


def closing_line(results: dict[str, Any]) -> str:
    """The one line that says what a run holds; it says 'unjudged' and 'skipped' whenever there are any."""
    counts = results["counts"]
    by_variant = counts.get("unparsed_by_variant") or {}
    detail = f" ({', '.join(f'{name} {n}' for name, n in by_variant.items())})" if by_variant else ""
    unjudged = f", unjudged {counts['unjudged']}" if counts.get("unjudged") else ""
    reasons = ", ".join(f"{kind} {n}" for kind, n in (counts.get("skipped_by_reason") or {}).items())
    skipped = f"; skipped items {counts['skipped_items']} ({reasons})" if counts.get("skipped_items") else ""
    return (f"items {counts['items']}: scored {counts['scored']}, failed {counts['failed']}{unjudged}, "
            f"unparsed {counts['unparsed']}{detail}, pending {counts['pending']}{skipped}")


async def cmd_run(args: argparse.Namespace) -> int:
    from cares.runner.pipeline import evaluate_async

    if args.run_dir is not None and len(args.model) > 1:
        raise ConfigError("--run-dir names one run; with several --model options use --runs-root")
    if args.bootstrap < 0:
        raise ConfigError("--bootstrap must be 0 or more")
    run_options = opt.run_options(args)
    opt.check_model_args(args.model, args.model_arg)
    exit_code = 0
    results: list[RunResult] = []
    for spec in args.model:
        config = opt.run_config(args, args.benchmark, spec)
        if config.data == "sample" and args.benchmark in ("cares-18k", "cares-vqa") and not args.json:
            full = "--data hf runs the published CARES-18K" if args.benchmark == "cares-18k" else (
                "`cares data fetch cares-vqa` and --data cares-vqa run the released questions")
            print(
                f"cares: using the bundled {args.benchmark} sample, written for this toolkit; {full}", file=sys.stderr
            )
        # Guard settings change the answers but are not part of the benchmark's config: they name
        # the default directory too, so two thresholds never share (and keep re-asking) one run.
        guard = run_options.model.guard if spec.startswith("guard/") else None
        salt = {"guard": dataclasses.asdict(guard)} if guard is not None else None
        run_dir = args.run_dir or config.default_run_dir(args.runs_root, salt)
        result = await evaluate_async(config, run_dir, run_options)
        show_result(result, args.json)
        results.append(result)
        if result.incomplete:
            exit_code = 3
    if len(results) > 1 and not args.json:
        show_overview(results)
    return exit_code


def show_overview(results: list[RunResult]) -> None:
    """Models side by side, so a model can be read against the trivial baselines."""
    from rich.table import Table

    from cares.tasks import get_task

    rows = [get_task(r.benchmark).overview_row(r.results) for r in results]
    table = Table(title=get_task(results[0].benchmark).overview_title, title_justify="left")
    wide = len(rows[0]) > 7
    for column in rows[0]:
        table.add_column(
            column, justify="left" if column == "model" else "right", no_wrap=not wide or column == "model"
        )
    for row in rows:
        table.add_row(*row.values())
    _console().print(table)


async def cmd_resume(args: argparse.Namespace) -> int:
    from cares.runner.pipeline import evaluate_async, stored_base_url, stored_config, stored_model_args

    config = stored_config(args.run_dir)
    if all(key.startswith("header.") for key, _ in args.model_arg):
        # Headers are never stored: giving one keeps the run's stored settings.
        args.model_arg = [*stored_model_args(args.run_dir), *args.model_arg]
    if args.base_url is None:
        # The server is part of the model's identity: asking another one would not resume anything.
        args.base_url = stored_base_url(args.run_dir)
    if args.judge:
        config = RunConfig.from_dict({**config.to_dict(), "judge": args.judge})
    run_options = opt.run_options(args)
    opt.check_model_args([config.model], args.model_arg)
    result = await evaluate_async(config, args.run_dir, run_options)
    show_result(result, args.json)
    return 3 if result.incomplete else 0


async def cmd_rescore(args: argparse.Namespace) -> int:
    from cares.runner.pipeline import rescore_async

    result = await rescore_async(args.run_dir, args.judge, opt.run_options(args))
    show_result(result, args.json)
    return 3 if result.incomplete else 0


async def cmd_export(args: argparse.Namespace) -> int:
    import asyncio

    from cares.report.export_formats import export_run

    # In a worker thread: Inspect's log writer runs an event loop of its own.
    written = await asyncio.to_thread(export_run, args.run_dir, args.format, args.output, args.judge)
    print("wrote " + ", ".join(map(str, written[:-1])) + f" and {written[-1]}")
    return 0


async def cmd_show(args: argparse.Namespace) -> int:
    from cares.runner.result import RunResult
    from cares.store.runstore import STORE_NAME
    from cares.store.sqlite_errors import verify_store

    if (args.run_dir / STORE_NAME).is_file():
        verify_store(args.run_dir / STORE_NAME)  # never show old results of a store damaged since
    show_result(RunResult.load(args.run_dir), as_json=args.json)
    return 0


async def cmd_judge(args: argparse.Namespace) -> int:
    from cares.judges.pairs import judge_file

    if args.judge_command == "validate":
        return await cmd_judge_validate(args)
    if args.input is None or args.output is None:
        raise ConfigError("cares judge needs --input and --output (or: cares judge validate FILE)")
    summary = await judge_file(args.input, args.output, args.judge, opt.run_options(args))
    print(f"wrote {args.output}: " + ", ".join(f"{label} {n}" for label, n in summary.items()))
    if summary.get("failed"):
        print(f"cares: {summary['failed']} judge calls failed after retries; their lines carry judge_error. "
              "Run the same command again to retry them", file=sys.stderr)
        return 3
    return 0


async def cmd_judge_validate(args: argparse.Namespace) -> int:
    from rich.table import Table

    from cares.judges.validation import summary_rows, validate_file
    from cares.metrics.agreement import HUMAN_LABELS, JUDGE_LABELS
    from cares.report.outputs import write_atomic

    if args.bootstrap < 0:
        raise ConfigError("--bootstrap must be 0 or more")
    if args.output is not None and args.output.resolve() == args.labelled.resolve():
        raise ConfigError("--output would overwrite the labelled file; choose another path")
    report = await validate_file(args.labelled, args.judge, opt.run_options(args), gold_field=args.gold_field,
                                 store_path=args.store, resamples=args.bootstrap, seed=args.seed)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.output is not None:
        write_atomic(args.output, text + "\n")
    if args.json:
        print(text)
        return 3 if report["n_failed"] else 0
    console = _console()
    table = Table(title=f"judge {report['judge']} against {args.gold_field!r} labels, n={report['n']} "
                        f"(95% bootstrap CIs)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary_rows(report):
        table.add_row(name, value)
    console.print(table)
    confusion = Table(title="confusion matrix (rows: human, columns: judge)", title_justify="left")
    confusion.add_column("human \\ judge")
    for label in JUDGE_LABELS:
        confusion.add_column(label, justify="right")
    for label, row in zip(HUMAN_LABELS, report["confusion"]["counts"]):
        confusion.add_row(label, *map(str, row))
    console.print(confusion)
    if report["n_failed"]:
        console.print(f"[yellow]{report['n_failed']} judge calls failed and are left out; run again to retry[/]")
    if args.output is not None:
        console.print(f"report: {args.output} (give it to `cares run` or `cares rescore` as --judge-calibration)")
    return 3 if report["n_failed"] else 0


async def cmd_generate(args: argparse.Namespace) -> int:
    from cares.attacks.generate import generate_file

    done = await generate_file(
        args.source, args.output, args.styles, args.rewriter_model, args.seed, opt.run_options(args)
    )
    print(f"wrote {done.rows} rows to {args.output}")
    if done.refused:
        by_style = Counter(style for _, style, _ in done.refused)
        line, style, text = done.refused[0]
        were = "rewrite was a refusal" if len(done.refused) == 1 else "rewrites were refusals"
        print(f"cares: {len(done.refused)} {were} by {args.rewriter_model} and left out "
              f"({', '.join(f'{s} {n}' for s, n in sorted(by_style.items()))}); e.g. {args.source}:{line} {style}: "
              f"{text[:80]!r}", file=sys.stderr)
    if done.missing:
        print(f"cares: {done.missing} rewrites failed after retries and were left out; run the same command to retry "
              "them", file=sys.stderr)
        return 3
    return 0


async def cmd_leaderboard(args: argparse.Namespace) -> int:
    from cares.report.leaderboard import leaderboard

    markdown, csv_text = leaderboard(args.run_dirs, baselines=not args.no_baselines, published=not args.no_published)
    print(markdown)
    if args.csv:
        from cares.report.outputs import write_atomic

        write_atomic(args.csv, csv_text)
        print(f"wrote {args.csv}")
    if args.html:
        from cares.cli.report_commands import write_html
        from cares.report.html import build_report

        write_html(args.html, build_report(args.run_dirs, title="CARES-VQA leaderboard"))
    return 0


async def cmd_report(args: argparse.Namespace) -> int:
    from cares.cli.report_commands import cmd_report as run

    return await run(args)


async def cmd_compare(args: argparse.Namespace) -> int:
    from cares.cli.report_commands import cmd_compare as run

    return await run(args)


async def cmd_data(args: argparse.Namespace) -> int:
    from cares.data.vqa.fetch import DEFAULT_BASE_URL, default_cache_dir, fetch_cares_vqa

    dest = args.dest or default_cache_dir() / "cares-vqa"
    files = fetch_cares_vqa(dest, args.base_url or DEFAULT_BASE_URL, force=args.force)
    for entry in files:
        state = "downloaded" if entry.downloaded else "already present"
        check = f"git blob {entry.git_blob[:12]}..." if entry.verified_by == "git-blob" and entry.git_blob \
            else f"sha256 {entry.sha256[:12]}..."
        print(f"{entry.relative_path}: {state}, verified by {check}, {entry.size} bytes")
    print(f"question files are in {dest}; run with --data {dest if args.dest else 'cares-vqa'}")
    return 0


async def cmd_list(args: argparse.Namespace) -> int:
    from cares.judges import JUDGE_HELP
    from cares.models.registry import describe_providers
    from cares.tasks import TASKS

    listing = {
        "benchmarks": {name: task.description for name, task in sorted(TASKS.items())},
        "model_providers": describe_providers(),
        "judges": dict(JUDGE_HELP),
    }
    if args.json:
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return 0
    for title, entries in listing.items():
        print(f"{title.replace('_', ' ')}:")
        for name, text in entries.items():
            print(f"  {name:18} {text}")
    return 0


async def cmd_guard(args: argparse.Namespace) -> int:
    from cares.cli.guard import run_guard_command

    return await run_guard_command(args, args.guard_parser)
