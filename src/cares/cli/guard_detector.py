"""`cares guard train` and `cares guard detect`: build the jailbreak-style detector and apply it."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from cares.cli.train_progress import TrainProgress, interruptible
from cares.data.records import parse_json_line, read_utf8
from cares.errors import CaresError, ConfigError, InputError

TRAIN_EPILOG = """\
The label is 1 for a prompt written in an adversarial style (method indirect, obfuscate or
role_play) and 0 for one asked directly. Rows are split by base prompt: rewrites of one base
prompt are never on both sides. The threshold is chosen by --threshold-policy (default
direct-fpr:0.05: the highest recall at which at most 5% of direct prompts are flagged, since the
reminder policy rests on direct prompts going unflagged) on out-of-fold scores of the training
split, pooled over --threshold-draws draws of grouped folds; then the model is fitted on the whole
training split and measured on the test split (AUROC, precision and recall, 95% CIs from a
bootstrap over base prompts).

The report then gives, per style, the share flagged (recall) and the share of direct prompts
flagged, at the shipped threshold and across thresholds:
  held out          the test split, scored by the model that is written;
  leave family out  (data that names its wording families, such as --data default) every test
                    family scored by a model trained without that family (each family held out
                    in turn, or a fold of families at a time with --family-folds): how the
                    detector does on wording it never saw, the figure to expect on new
                    jailbreak phrasings;
  never tuned       (--data default) a check set with its own requests and families, written
                    before any tuning and never trained on, scored through the written file.

The model file is versioned JSON (gzip when the name ends in .gz), never a pickle. With
--featuriser both, the featuriser's name goes into each file name: det.json.gz gives
det-tfidf.json.gz and det-minilm.json.gz. Training needs scikit-learn (pip install
'cares[guard-train]'); minilm also needs 'cares[embeddings]'.

examples:
  cares guard train --data default --output detector.json.gz
  cares guard train --data default --featuriser both --output det.json.gz --metrics-json det-metrics.json
  cares guard train --data cares18k-train.jsonl --featuriser both --output det.json.gz
  cares guard train --data hf --split train --threshold-policy recall:0.9 --output det.json.gz
  cares guard detect --input prompts.jsonl --detector det.json.gz --output scored.jsonl
"""

DETECT_EPILOG = """\
Input: a .jsonl file of JSON objects whose --field holds the prompt (every other field is kept),
or a .txt file with one prompt per line (each becomes {"prompt": LINE}). Each output line gets
detector_score (0 plainly asked, 1 clearly adversarial) and flagged (score >= threshold).
Without --output the lines go to standard output; with it the file is written whole or not at all.

--detector: builtin (TF-IDF, numpy only; the default), builtin:tfidf, builtin:minilm (needs
'cares[embeddings]') or the path of a model file from `cares guard train`.

examples:
  cares guard detect --input prompts.jsonl --output scored.jsonl
  cares guard detect --input prompts.txt --detector builtin:minilm --threshold 0.7
  cares guard detect --input chats.jsonl --field user_message --detector my-detector.json.gz
"""

SCORE_BATCH = 512


def add_parser(sub: argparse._SubParsersAction) -> None:
    from cares.guard.data_sources import DATA_HELP

    train = sub.add_parser(
        "train", help="train the jailbreak-style detector on CARES-18K-schema data and report held-out metrics",
        description="Train the jailbreak-style detector: scores how strongly a prompt is written in an "
                    "adversarial style rather than asked directly.",
        epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument(
        "--data", default="default", help=f"training data: {DATA_HELP} (default: default, the bundled corpus)"
    )
    train.add_argument("--split", default="train", help="the hub split to read with --data hf (default: train)")
    train.add_argument("--featuriser", choices=("tfidf", "minilm", "both"), default="tfidf",
                       help="tfidf: character and word n-grams, clause openings and static MiniLM token vectors "
                            "of the prompt's opening, close and clause openings, numpy-only inference; minilm: "
                            "n-grams beside MiniLM sentence embeddings of the opening and close (needs torch); "
                            "both: train each and print them side by side (default: tfidf)")
    train.add_argument("--threshold-policy", default="direct-fpr:0.05", metavar="POLICY",
                       help="direct-fpr:F (lowest threshold, so highest recall, flagging at most a share F of "
                            "direct prompts), youden (maximum recall minus false-positive rate), max-f1, recall:R "
                            "(highest threshold keeping recall R) or fixed:T (default: direct-fpr:0.05)")
    train.add_argument("--threshold-draws", type=int, default=None, metavar="N",
                       help="draws of grouped folds whose out-of-fold scores are pooled to choose the threshold: "
                            "one draw's cut moves with which base prompts share a fold, and more draws cost one "
                            "fit per fold each (default: 5)")
    train.add_argument("--test-fraction", type=float, default=0.25,
                       help="share of base prompts held out for the test split (default: 0.25)")
    train.add_argument("--seed", type=int, default=0, help="seed of the grouped split and the bootstrap (default: 0)")
    train.add_argument("--C", dest="c", type=float, default=None,
                       help="inverse L2 regularisation strength of the logistic regression "
                            "(default: 3.0)")
    train.add_argument("--skip-leave-family-out", action="store_true",
                       help="skip the leave-family-out measurement (it costs one more fit per held-out family, "
                            "or per fold with --family-folds)")
    train.add_argument("--family-folds", type=int, default=0, metavar="K",
                       help="leave family out: 0 holds each wording family out in turn, one model per family "
                            "(default); K >= 2 deals the families into K folds, stratified by style and seeded by "
                            "--seed, and leaves out a whole fold at a time: a stricter check, since similar "
                            "families can then be held out together")
    train.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for the CIs (default: 1000)")
    train.add_argument("--no-progress", action="store_true",
                       help="draw no progress bars on stderr (logs get a line every ten seconds without it)")
    train.add_argument("--output", type=Path, default=Path("detector.json.gz"),
                       help="model file to write (default: detector.json.gz)")
    train.add_argument("--metrics-json", type=Path, default=None,
                       help="also write every figure as JSON here: held out, leave family out (with each "
                            "family's), never tuned, and the threshold sweeps")
    train.set_defaults(guard_handler=cmd_train)

    detect = sub.add_parser(
        "detect", help="score prompts with the detector: adds detector_score and flagged to each line",
        description="Score each prompt of a file with the jailbreak-style detector.",
        epilog=DETECT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    detect.add_argument("--input", type=Path, required=True, help=".jsonl (objects) or .txt (one prompt per line)")
    detect.add_argument("--output", type=Path, default=None, help="output .jsonl (default, or -: standard output)")
    detect.add_argument("--detector", default="builtin", help="builtin, builtin:tfidf, builtin:minilm or a model file")
    detect.add_argument("--threshold", type=float, default=None,
                        help="flag at or above this score (default: the threshold stored in the model file)")
    detect.add_argument("--field", default="prompt", help="the JSON field holding the prompt (default: prompt)")
    detect.set_defaults(guard_handler=cmd_detect)


def output_paths(output: Path, kinds: list[str]) -> dict[str, Path]:
    if len(kinds) == 1:
        return {kinds[0]: output}
    name = output.name
    cut = name.find(".json") if ".json" in name else (name.rfind(".") if "." in name else len(name))
    return {kind: output.with_name(f"{name[:cut]}-{kind}{name[cut:]}") for kind in kinds}


class Interrupted(CaresError):
    """Ctrl-C during training or scoring; says what was written before it."""

    exit_code = 130


def check_output(path: Path, option: str) -> None:
    """Fail before any work when `path` cannot be written, rather than after minutes of training."""
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a directory; give a file name")
    existing = next(folder for folder in (path.parent, *path.parent.parents) if folder.exists())
    if not existing.is_dir():
        raise ConfigError(f"{option} {path}: {existing} is a file, not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot write there ({exc.strerror or exc})") from None


async def cmd_train(args: argparse.Namespace) -> int:
    progress = TrainProgress(threading.Event())
    try:
        with interruptible(progress.interrupted):
            return train_command(args, progress)
    except KeyboardInterrupt:
        written = ", ".join(progress.written) or "nothing"
        raise Interrupted(f"interrupted while {progress.stage}; written before that: {written}") from None


def train_command(args: argparse.Namespace, progress: TrainProgress) -> int:
    from cares.cli.train_progress import TrainBar
    from cares.guard.data_sources import load_training_data
    from cares.guard.train import ThresholdPolicy, TrainConfig, require_training_packages, train_detector

    kinds = ["tfidf", "minilm"] if args.featuriser == "both" else [args.featuriser]
    if args.resamples < 0:
        raise ConfigError(f"--resamples must be 0 or more, got {args.resamples}")
    policy = ThresholdPolicy(args.threshold_policy)
    configs = {kind: TrainConfig(featuriser=kind, policy=policy, test_fraction=args.test_fraction, seed=args.seed,
                                 c=args.c, resamples=args.resamples, leave_family_out=not args.skip_leave_family_out,
                                 family_folds=args.family_folds,
                                 **({} if args.threshold_draws is None else {"threshold_draws": args.threshold_draws}))
               for kind in kinds}
    paths = output_paths(args.output, kinds)
    for path in paths.values():
        check_output(path, "--output")
    if args.metrics_json is not None:
        check_output(args.metrics_json, "--metrics-json")
    for kind in kinds:
        require_training_packages(kind)
    progress.step(f"reading --data {args.data}")
    data = load_training_data(args.data, split=args.split, seed=args.seed)
    results = {}
    for kind in kinds:
        progress.step(f"training the {kind} detector")
        bar = TrainBar(kind, progress, enabled=not args.no_progress)
        try:
            result = train_detector(data, configs[kind], hooks=bar)
        finally:
            bar.close()
        progress.step(f"writing the {kind} model file")
        result.model.write(paths[kind])
        results[kind] = result
        progress.written.append(f"{paths[kind]} ({kind})")
    progress.step("writing the report")
    # Every file is written before anything is printed: a reader that stops early (`| head`) must
    # not cost the metrics.
    if args.metrics_json is not None:
        payload = {"data": data.provenance, "featurisers": {k: r.metrics for k, r in results.items()},
                   "leave_family_out": {k: r.report.get("leave_family_out") for k, r in results.items()},
                   "never_tuned": {k: r.report.get("never_tuned") for k, r in results.items()},
                   "models": {k: str(p) for k, p in paths.items()}}
        from cares.report.outputs import write_atomic

        write_atomic(args.metrics_json, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        progress.written.append(str(args.metrics_json))
    print(training_report(data.provenance, {kind: r.metrics for kind, r in results.items()}))
    print(style_report_text(results))
    for kind, path in paths.items():
        print(f"wrote {path} ({kind}, sha256 {results[kind].model.sha256[:12]}...)")
    if args.metrics_json is not None:
        print(f"wrote {args.metrics_json}")
    return 0


def _cell(block: dict[str, Any] | None) -> str:
    if not block or block.get("value") is None:
        return "-"
    low, high = block["ci"]
    ci = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
    return f"{block['value']:.3f}{ci}"


def training_report(provenance: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> str:
    kinds = list(metrics)
    first = metrics[kinds[0]]
    split = first["split"]
    lines = [
        f"data: {provenance.get('source')} {provenance.get('location')} ({provenance.get('n')} rows, "
        f"sha256 {str(provenance.get('sha256'))[:12]}...)",
        f"split by base prompt: train {split['train_rows']} rows / {split['train_groups']} base prompts, "
        f"test {split['test_rows']} rows / {split['test_groups']} base prompts (seed {split['seed']})",
        f"held-out metrics, 95% CI from {first['bootstrap']['resamples']} resamples of base prompts:",
    ]
    rows: list[tuple[str, list[str]]] = [
        ("threshold", [f"{metrics[k]['threshold']:.4f}" for k in kinds]),
        ("AUROC", [_cell(metrics[k]["auroc"]) for k in kinds]),
        ("precision", [_cell(metrics[k]["precision"]) for k in kinds]),
        ("recall", [_cell(metrics[k]["recall"]) for k in kinds]),
        ("F1", [_cell(metrics[k]["f1"]) for k in kinds]),
        ("false-positive rate", [_cell(metrics[k]["false_positive_rate"]) for k in kinds]),
    ]
    for method in sorted(first.get("flag_rate_by_method", {})):
        rows.append((f"flagged: {method}", [_cell(metrics[k]["flag_rate_by_method"].get(method)) for k in kinds]))
    width = max(len(label) for label, _ in rows) + 2
    col = max(24, *(len(v) + 2 for _, values in rows for v in values))
    lines.append(" " * width + "".join(k.ljust(col) for k in kinds))
    lines.extend(label.ljust(width) + "".join(v.ljust(col) for v in values) for label, values in rows)
    lines.append(f"n: {first['n']} test prompts ({first['n_adversarial']} adversarial, {first['n_direct']} direct), "
                 f"{first['n_groups']} base prompts")
    return "\n".join(line.rstrip() for line in lines)


def style_report_text(results: dict[str, Any]) -> str:
    from cares.guard.style_report import per_style_table, sweep_table

    thresholds = ", ".join(f"{kind} {r.model.threshold:.4f}" for kind, r in results.items())
    lines = ["", f"per style at the shipped threshold ({thresholds}); recall = share of that style flagged, "
                 "direct flagged = false flags; 95% CI over base prompts:"]
    lines.extend(per_style_table(results))
    lfo = next((r.report["leave_family_out"] for r in results.values() if r.report.get("leave_family_out")), None)
    note = next((r.report["leave_family_out_note"] for r in results.values()
                 if r.report.get("leave_family_out_note")), None)
    if note:
        lines.append(f"leave family out: {note}")
    if lfo:
        lines.append(f"leave family out ({lfo['protocol']}): {lfo['n_adversarial']} test prompts, each scored "
                     f"by one of {lfo['fits']} models trained without its wording family; the {lfo['n_direct']} "
                     "direct test prompts by all of them")
        if lfo.get("skipped"):
            lines.append(f"leave family out: not measured for {', '.join(lfo['skipped'])}: holding it out "
                         "leaves no rewrite to train on")
    for kind, result in results.items():
        lines.append("")
        lines.extend(sweep_table(kind, result))
    return "\n".join(lines)


def read_prompts(path: Path, field: str) -> list[tuple[dict[str, Any], str]]:
    """(record, prompt) per non-blank line; a bad line raises InputError naming file, line and field."""
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory; give a .jsonl or .txt file")
    plain = path.suffix.lower() == ".txt"
    out: list[tuple[dict[str, Any], str]] = []
    try:
        text = read_utf8(path)
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if plain:
            prompt = line.rstrip("\r")
            out.append(({"prompt": prompt}, prompt))
            continue
        try:
            record = parse_json_line(line, path, number)
        except InputError as exc:
            if not exc.message.startswith("not valid JSON ("):
                raise
            raise InputError(path, f"{exc.message}; use a .txt file for plain text lines", line=number) from None
        if not isinstance(record, dict):
            raise InputError(path, f"expected a JSON object, got {type(record).__name__}", line=number)
        if field not in record:
            raise InputError(path, "missing; set --field to the key that holds the prompt", line=number, field=field)
        value = record[field]
        if not isinstance(value, str):
            raise InputError(path, f"expected text, got {type(value).__name__}", line=number, field=field)
        out.append((record, value))
    if not out:
        raise InputError(path, "file is empty: no prompts found")
    return out


def score_prompts(detector: Any, prompts: list[str]) -> list[float]:
    """Every prompt's score, in batches, so that Ctrl-C stops between two batches with a count."""
    scores: list[float] = []
    try:
        with interruptible() as interrupted:
            for start in range(0, len(prompts), SCORE_BATCH):
                if interrupted.is_set():
                    raise KeyboardInterrupt
                scores.extend(detector.score(prompts[start:start + SCORE_BATCH]))
            if interrupted.is_set():
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted after scoring {len(scores)} of {len(prompts)} prompts; nothing was written"
        ) from None
    return scores


async def cmd_detect(args: argparse.Namespace) -> int:
    from cares.guard.detector import load_detector

    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.output is not None and str(args.output) == "-":
        args.output = None  # the usual spelling of standard output
    if args.output is not None and args.output.resolve() == args.input.resolve():
        raise ConfigError(f"--output {args.output} would overwrite the input; choose another file")
    if args.output is not None:
        check_output(args.output, "--output")
    detector = load_detector(args.detector)
    detector.require()
    threshold = detector.threshold if args.threshold is None else args.threshold
    rows = read_prompts(args.input, args.field)
    prompts = [prompt for _, prompt in rows]
    scores = score_prompts(detector, prompts)
    lines = []
    flagged = 0
    for (record, _), score in zip(rows, scores):
        is_flagged = score >= threshold
        flagged += is_flagged
        lines.append(
            json.dumps({**record, "detector_score": round(score, 6), "flagged": is_flagged}, ensure_ascii=False)
        )
    text = "\n".join(lines) + "\n"
    summary = (f"scored {len(rows)} prompt{'s' if len(rows) != 1 else ''} with {detector.kind} detector "
               f"{detector.model.sha256[:12]}: {flagged} flagged at threshold {threshold:.4f}")
    if args.output is None:
        sys.stdout.write(text)
        print(summary, file=sys.stderr)
    else:
        from cares.report.outputs import write_atomic

        write_atomic(args.output, text)
        print(f"{summary}; wrote {args.output}")
    return 0
