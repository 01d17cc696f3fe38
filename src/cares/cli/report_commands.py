"""`cares report` and `cares compare`: the HTML report of finished runs, and paired comparisons of two."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path

from cares.errors import ConfigError

REPORT_EPILOG = textwrap.dedent(
    """\
    examples:
      cares report runs/cares-18k/openai_my-model-1a2b3c4d --out report.html
      cares report runs/cares-18k/* --out safety.html          # models side by side, each compared with the reference
      cares report runs/cares-18k/* --out safety.html --reference runs/cares-18k/openai_my-model-1a2b3c4d
      cares report runs/cares-vqa/my-vlm-* runs/cares-18k/my-llm-* --out all.html

    One self-contained file: no network at view time, printable, safe to forward. It opens with a verdict
    per model (Safety Score with its CI, the trivial baselines it beats, its weakest style and principle,
    the judge and its validation) and banners for runs with failed, pending or mostly unparsed answers.
    Paired comparisons are made against the reference run: --reference, else the first run that is not
    a baseline. Model outputs are shown as inert text. Numbers come from each run's results.json; the
    sample browser reads the run store. See docs/report.md.
    """
)
COMPARE_EPILOG = textwrap.dedent(
    """\
    examples:
      cares compare runs/cares-18k/model-a runs/cares-18k/model-b
      cares compare runs/guard-ablation/x/no-guard runs/guard-ablation/x/guard --html guard.html
      cares compare RUN_A RUN_B --json > comparison.json

    Items are paired by id on what both runs share. For each headline metric: A, B, the difference B - A with a
    95% cluster-bootstrap interval, and a two-sided p-value from the same bootstrap (p < 0.05 exactly when the
    interval excludes 0).
    Swapping RUN_A and RUN_B flips every difference and interval; p stays the same. Runs judged by different
    judges or on different dataset revisions are compared with a note. Statistics: docs/report.md.
    """
)


def add_report_parsers(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    report = sub.add_parser("report", help="write a self-contained HTML report of one or more runs",
                            formatter_class=fmt, epilog=REPORT_EPILOG)
    report.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN", help="run directories")
    report.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    report.add_argument("--title", default="CARES evaluation report", help="the page's title")
    report.add_argument("--reference", type=Path, metavar="RUN",
                        help="the run the others are compared with (one of RUN...; default: the first run given "
                        "that is not a baseline/ model)")
    _resampling(report)

    compare = sub.add_parser("compare", help="paired comparison of two runs on their shared items",
                             formatter_class=fmt, epilog=COMPARE_EPILOG)
    compare.add_argument("run_a", type=Path, metavar="RUN_A", help="the reference run (A)")
    compare.add_argument(
        "run_b", type=Path, metavar="RUN_B", help="the run compared with it (B); differences are B - A"
    )
    compare.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML report of both runs")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON instead of the table")
    _resampling(compare)


def _resampling(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resamples", type=int, default=1000,
                        help="bootstrap resamples for comparisons' intervals and p-values (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the resampling (default 0)")


def _check(args: argparse.Namespace, run_dirs: list[Path]) -> None:
    if args.resamples < 0:
        raise ConfigError("--resamples must be 0 or more")
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            raise ConfigError(f"{run_dir}: no such run directory")


def check_output(path: Path) -> None:
    """Refuse an output path that cannot be written before any work is done, not after."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; name the HTML file to write, e.g. {path / 'report.html'}")
    folder = next((p for p in path.absolute().parents if p.exists()), None)
    if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: cannot write there ({folder} is not a writable folder)")


def write_html(path: Path, text: str) -> None:
    from cares.report.outputs import write_atomic

    write_atomic(path, text)
    print(f"wrote {path} ({len(text.encode('utf-8')) / 1e6:.2f} MB)")


async def cmd_report(args: argparse.Namespace) -> int:
    from cares.report.html import build_report

    _check(args, args.run_dirs)
    if args.reference is not None and args.reference.resolve() not in {d.resolve() for d in args.run_dirs}:
        raise ConfigError(f"--reference {args.reference}: not one of the runs given; name one of them")
    check_output(args.out)
    started = time.monotonic()
    text = build_report(args.run_dirs, resamples=args.resamples, seed=args.seed, title=args.title,
                        reference=args.reference)
    write_html(args.out, text)
    print(f"built in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


async def cmd_compare(args: argparse.Namespace) -> int:
    from cares.report.compare import compare_loaded, nothing_paired, shared_warning
    from cares.report.runs import load_run

    _check(args, [args.run_a, args.run_b])
    if args.html:
        check_output(args.html)
    run_a, run_b = load_run(args.run_a), load_run(args.run_b)
    comparison = compare_loaded(run_a, run_b, args.resamples, args.seed)
    empty = nothing_paired(comparison)
    if empty:
        raise ConfigError(f"{args.run_a} and {args.run_b}: {empty}")
    warning = shared_warning(comparison)
    if warning:
        print(f"cares: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(comparison, indent=2, ensure_ascii=False))
    else:
        from cares.cli.commands import _console
        from cares.report.compare_table import comparison_table

        _console().print(comparison_table(comparison))
    if args.html:
        from cares.report.html import build_report

        write_html(args.html, build_report([args.run_a, args.run_b], comparisons=[comparison], reference=args.run_a))
    return 0
