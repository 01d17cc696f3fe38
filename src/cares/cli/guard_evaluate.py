"""`cares guard evaluate`: how a detector does on labelled prompts of your own, per style.

An auditor's question is rarely "what AUROC did the corpus give"; it is "which of *my* attack
prompts get through, and how many of my plain questions get flagged". This scores a
CARES-18K-schema file (direct rows and rewrites) with one or more detectors and prints, per style,
the share flagged at each detector's own threshold with a 95% CI over base prompts, per wording
family when the rows name one, and a threshold sweep. Nothing is trained."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from cares.cli.guard_detector import check_output, score_prompts
from cares.errors import ConfigError

EPILOG = """\
The file is read like any CARES-18K input (.jsonl, .json, .csv or .parquet; a bad row is a one-line
error naming its line and field): each row's method says its style (direct, indirect, obfuscate,
role_play) and its base_prompt groups a request with its rewrites, so the CIs resample base
prompts. An optional family column (any text) names where a rewrite's wording came from; the
share flagged is then also given per family. sample reads the bundled CARES-18K sample, and
never-tuned the bundled check set that the shipped detectors never saw (both are partly or wholly
in the default corpus's reach, so use your own prompts for a verdict).

examples:
  cares guard evaluate --data my-attacks.jsonl
  cares guard evaluate --data my-attacks.jsonl --detector builtin --detector builtin:minilm
  cares guard evaluate --data my-attacks.csv --detector det.json.gz --threshold 0.5 --json eval.json
  cares guard evaluate --data never-tuned --detector builtin --detector builtin:minilm
"""

def add_parser(sub: argparse._SubParsersAction) -> None:
    evaluate = sub.add_parser(
        "evaluate", help="measure detectors on labelled prompts: recall per style and direct false flags, with CIs",
        description="Score labelled prompts with one or more detectors and report, per style, the share flagged "
                    "at each detector's threshold and across thresholds.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("--data", required=True,
                          help="a .jsonl/.json/.csv/.parquet file in the CARES-18K schema (optionally with a family "
                               "column), sample, never-tuned, hf or hf:REPO[@REVISION]")
    evaluate.add_argument("--split", default="test", help="the hub split to read with --data hf (default: test)")
    evaluate.add_argument("--detector", action="append", default=None, metavar="DETECTOR",
                          help="builtin, builtin:tfidf, builtin:minilm or a model file; repeat to compare "
                               "(default: builtin)")
    evaluate.add_argument("--threshold", type=float, default=None,
                          help="flag at or above this score for every detector (default: each file's own)")
    evaluate.add_argument("--resamples", type=int, default=1000,
                          help="bootstrap resamples of base prompts for the CIs (default: 1000)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    evaluate.add_argument("--json", type=Path, default=None, dest="json_out", metavar="FILE",
                          help="also write every figure, per-prompt scores included, as JSON here")
    evaluate.set_defaults(guard_handler=cmd_evaluate)


async def cmd_evaluate(args: argparse.Namespace) -> int:
    from cares.guard.detector import load_detector

    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.resamples < 0:
        raise ConfigError(f"--resamples must be 0 or more, got {args.resamples}")
    if args.json_out is not None:
        check_output(args.json_out, "--json")
    specs = list(dict.fromkeys(args.detector or ["builtin"]))
    detectors = {spec: load_detector(spec) for spec in specs}
    for detector in detectors.values():
        detector.require()
    data = read_data(args.data, args.split)
    results = {spec: measure(detector, data, args) for spec, detector in detectors.items()}
    # The file first: a reader that stops early (`| head`) must not cost it.
    if args.json_out is not None:
        from cares.report.outputs import write_atomic

        payload = {"data": data.provenance, "detectors": results}
        write_atomic(args.json_out, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(report_text(data, results))
    if args.json_out is not None:
        print(f"wrote {args.json_out}")
    return 0


def read_data(spec: str, split: str) -> Any:
    from cares.guard.data_sources import TrainingData, load_training_data

    if spec == "default":
        raise ConfigError("--data default is the shipped detectors' training corpus, so it cannot measure them; "
                          "give your own file, or never-tuned for the bundled check set")
    if spec == "never-tuned":
        held = load_training_data("default").never_tuned
        # The corpus prefixes its family names ("never-tuned:colour-code", "direct:plain"); a file's are its own.
        rows = [replace(row, family=row.family.split(":", 1)[-1]) for row in held]
        return TrainingData(rows, {"source": "never-tuned", "location": "cares.guard.corpus.never_tuned_set",
                                   "n": len(rows)}, has_families=True)
    data = load_training_data(spec, split=split)
    labels = {row.label for row in data.rows}
    if labels != {0, 1}:
        missing = "direct" if 0 not in labels else "rewritten (indirect, obfuscate or role_play)"
        raise ConfigError(f"--data {spec}: no {missing} rows; measuring a detector needs both, to give recall per "
                          "style beside the false flags on direct prompts")
    return data


def measure(detector: Any, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    from cares.guard.style_report import style_summary
    from cares.types import content_hash

    scores = score_prompts(detector, [row.prompt for row in data.rows])
    threshold = detector.threshold if args.threshold is None else args.threshold
    families = [_family_name(row) for row in data.rows] if data.has_families else None
    metrics = style_summary(scores, [row.label for row in data.rows], [row.method for row in data.rows],
                            [row.group for row in data.rows], threshold, families=families,
                            resamples=args.resamples, seed=args.seed)
    per_prompt = [{"id": row.item_id or content_hash([row.method, row.prompt]), "method": row.method,
                   "family": row.family, "score": round(float(score), 6), "flagged": bool(score >= threshold)}
                  for row, score in zip(data.rows, scores)]
    return {"detector": detector.identity(), "source": detector.source, "threshold": threshold, "metrics": metrics,
            "prompts": per_prompt}


def _family_name(row: Any) -> str:
    return f"direct ({row.family})" if row.label == 0 and row.family != "direct" else row.family


def report_text(data: Any, results: dict[str, dict[str, Any]]) -> str:
    from cares.guard.style_report import STYLES, rate_cell, sweep_rows

    first = next(iter(results.values()))["metrics"]
    source = data.provenance.get("location") or data.provenance.get("source")
    lines = [f"data: {source} ({first['n']} prompts: {first['n_adversarial']} rewritten, {first['n_direct']} direct; "
             f"{first['n_groups']} base prompts)"]
    for spec, result in results.items():
        identity = result["detector"]
        lines.append(f"detector {spec}: {identity['kind']}, sha256 {identity['sha256'][:12]}..., "
                     f"threshold {result['threshold']:.4f}")
    lines.append("share flagged at each detector's threshold (recall for a style, false flags for direct); "
                 "95% CI over base prompts:")
    rows: list[tuple[str, list[str]]] = []
    auroc = [r["metrics"]["auroc"] for r in results.values()]
    rows.append(("AUROC", [rate_cell(block, with_n=False) for block in auroc]))
    for style in (*STYLES, "direct"):
        label = "direct flagged" if style == "direct" else f"{style} recall"
        rows.append((label, [rate_cell(r["metrics"]["flag_rate_by_method"].get(style)) for r in results.values()]))
    lines.extend(_table(list(results), rows))
    by_family = [r["metrics"].get("flag_rate_by_family") for r in results.values()]
    if all(by_family):
        lines += ["", "per family (share flagged):"]
        names = sorted(by_family[0], key=lambda name: (name.startswith("direct"), name))
        lines.extend(_table(list(results), [(name, [rate_cell(block[name]) for block in by_family])
                                            for name in names]))
    for spec, result in results.items():
        lines += ["", f"{spec}: share flagged across thresholds (its own: {result['threshold']:.4f})"]
        lines.extend(sweep_rows(result["metrics"]["sweep"]))
    return "\n".join(lines)


def _table(columns: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    width = max(len(label) for label, _ in rows) + 2
    col = max(30, *(len(value) + 2 for _, values in rows for value in values), *(len(c) + 2 for c in columns))
    lines = [" " * width + "".join(c.ljust(col) for c in columns)]
    lines.extend(label.ljust(width) + "".join(value.ljust(col) for value in values) for label, values in rows)
    return [line.rstrip() for line in lines]
