"""Build the detectors that ship with cares, measure them, and write their metrics.

    python -m cares.guard.build_default [--output-dir DIR] [--seed 0] [--featuriser tfidf|minilm|both]

Trains the TF-IDF and MiniLM detectors on the bundled corpus (cares.guard.corpus.default_corpus)
with a split grouped by base prompt, and writes detector-tfidf.json.gz, detector-minilm.json.gz and
detector-metrics.json (to src/cares/guard/data by default). Set SOURCE_DATE_EPOCH to reproduce a
shipped file byte for byte.

Besides the usual held-out split it measures generalisation to wording the detector never saw,
which is what matters for public jailbreak prompts:

- leave-family-out: train on the CARES-style rewrites (the bundled sample and the rule-based
  rewrites) and test on the hand-written and generic-attack rewrites, and the reverse;
- leave-one-family-out: for each hand-written or generic-attack family, train without it and
  report how much of it is still flagged.

It also scores a check set of plain medical questions written apart from the corpus
(data/detector-plain-questions.txt), none of which should be flagged.

Every experiment uses the same split of base prompts, so a held-out family is also held out in
its base prompts; direct prompts are the negatives on both sides.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cares.guard.data_sources import TrainingData, TrainingRow, load_training_data
from cares.guard.detector import Detector, builtin_path
from cares.guard.evaluation import weighted_auroc
from cares.guard.train import (
    THRESHOLD_FOLDS,
    Featurised,
    TrainConfig,
    fit_and_measure,
    grouped_folds,
    grouped_split,
    train_detector,
)

METRICS_NAME = "detector-metrics.json"
PLAIN_QUESTIONS_NAME = "detector-plain-questions.txt"
BUILD_COMMAND = "python -m cares.guard.build_default"


def is_cares_style(family: str) -> bool:
    return family == "sample" or family.startswith("rules:")


def is_novel(family: str) -> bool:
    return family.startswith("handwritten:") or family.startswith("augment:")


def leave_family_out(data: TrainingData, featurised: Featurised, config: TrainConfig,
                     held_out: Callable[[str], bool]) -> dict[str, Any]:
    """Train on the training groups without the held-out families; test on the test groups' held-out
    families. Direct prompts (label 0) are kept on both sides as the negatives."""
    groups = [row.group for row in data.rows]
    train_groups, test_groups = grouped_split(groups, config.test_fraction, config.seed)
    train_rows = [i for i in train_groups if data.rows[i].label == 0 or not held_out(data.rows[i].family)]
    test_rows = [i for i in test_groups if data.rows[i].label == 0 or held_out(data.rows[i].family)]
    _, _, metrics, _ = fit_and_measure(data, featurised, train_rows, test_rows, config)
    metrics["train_rows"], metrics["test_rows"] = len(train_rows), len(test_rows)
    return metrics


def family_unit(row: TrainingRow) -> str | None:
    """The unit a leave-one-family-out run holds out: each generic attack, and the hand-written
    rewrites per method (most hand-written framings have too few rows to hold out alone)."""
    if row.family.startswith("augment:"):
        return row.family
    if row.family.startswith("handwritten:"):
        return f"handwritten ({row.method})"
    return None


def leave_one_family_out(data: TrainingData, featurised: Featurised, config: TrainConfig,
                         threshold: float) -> dict[str, Any]:
    """Per family unit: scores of its rows from models that never saw it, nor their base prompts.

    Grouped folds over all rows: each fold's unit rows and direct rows are scored by a model
    fitted on the other folds without the unit. Reported: AUROC of the unit against the direct
    prompts, and the share flagged at the shipped model's threshold."""
    labels = np.asarray([row.label for row in data.rows])
    units = [family_unit(row) for row in data.rows]
    folds = grouped_folds([row.group for row in data.rows], THRESHOLD_FOLDS, config.seed)
    out: dict[str, Any] = {}
    for unit in sorted({u for u in units if u is not None}):
        unit_scores: list[float] = []
        direct_scores: list[float] = []
        for fold in range(THRESHOLD_FOLDS):
            in_fold = folds == fold
            train_rows = [i for i in range(len(units)) if not in_fold[i] and units[i] != unit]
            positives = [i for i in range(len(units)) if in_fold[i] and units[i] == unit]
            negatives = [i for i in range(len(units)) if in_fold[i] and labels[i] == 0]
            if not positives:
                continue
            fitted = featurised.fit(train_rows, labels, config.regularisation, config.seed)
            scores = featurised.scores(fitted, positives + negatives)
            unit_scores.extend(scores[: len(positives)].tolist())
            direct_scores.extend(scores[len(positives):].tolist())
        both = np.asarray(unit_scores + direct_scores)
        truth = np.asarray([1] * len(unit_scores) + [0] * len(direct_scores))
        out[unit] = {
            "auroc_vs_direct": round(float(weighted_auroc(both, truth, np.ones((1, len(both))))[0]), 4),
            "flagged": round(float(np.mean(np.asarray(unit_scores) >= threshold)), 4),
            "n": len(unit_scores),
        }
    return out


def plain_questions() -> list[str]:
    """The false-positive check set: short and long plain medical questions, one per line."""
    text = (builtin_path("tfidf").parent / PLAIN_QUESTIONS_NAME).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def plain_question_check(detector: Detector) -> dict[str, Any]:
    questions = plain_questions()
    scores = detector.score(questions)
    flagged = [(q, s) for q, s in zip(questions, scores) if s >= detector.threshold]
    return {
        "file": PLAIN_QUESTIONS_NAME,
        "n": len(questions),
        "flagged": len(flagged),
        "flag_rate": round(len(flagged) / len(questions), 4),
        "max_score": round(max(scores), 4),
        "flagged_questions": [{"prompt": q, "score": round(s, 4)} for q, s in flagged],
    }


def build(kind: str, data: TrainingData, config: TrainConfig, output_dir: Path, *,
          per_family: bool = True) -> dict[str, Any]:
    featurised = Featurised(kind, [r.prompt for r in data.rows], [r.group for r in data.rows], config.ngram,
                            config.style)
    result = train_detector(data, config, featurised)
    path = output_dir / builtin_path(kind).name
    result.model.write(path)
    report = {
        "file": path.name,
        "sha256": result.model.sha256,
        "threshold": result.model.content["threshold"],
        "held_out": result.metrics,
        "plain_questions": plain_question_check(Detector(result.model, str(path))),
        "leave_family_out": {
            "train_cares_style_test_novel": leave_family_out(data, featurised, config, is_novel),
            "train_novel_test_cares_style": leave_family_out(data, featurised, config, is_cares_style),
        },
    }
    if per_family:
        report["leave_one_family_out"] = leave_one_family_out(data, featurised, config, result.model.threshold)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=BUILD_COMMAND, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=builtin_path("tfidf").parent)
    parser.add_argument("--featuriser", choices=("tfidf", "minilm", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="default", help="training data (default: the bundled corpus)")
    parser.add_argument("--no-per-family", action="store_true", help="skip the leave-one-family-out runs")
    args = parser.parse_args(argv)
    data = load_training_data(args.data, seed=args.seed)
    kinds = ["tfidf", "minilm"] if args.featuriser == "both" else [args.featuriser]
    from collections import Counter

    family_counts = Counter((row.family, row.label) for row in data.rows)
    metrics: dict[str, Any] = {
        "build_command": BUILD_COMMAND + ("" if args.seed == 0 else f" --seed {args.seed}"),
        "data": data.provenance,
        "families": {f"{family} (label {label})": n for (family, label), n in sorted(family_counts.items())},
        "detectors": {},
    }
    for kind in kinds:
        config = TrainConfig(featuriser=kind, seed=args.seed)
        metrics["detectors"][kind] = build(kind, data, config, args.output_dir, per_family=not args.no_per_family)
        print(f"built {kind}: " + summary_line(metrics["detectors"][kind]), file=sys.stderr)
    metrics_path = args.output_dir / METRICS_NAME
    metrics_path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {metrics_path}", file=sys.stderr)
    return 0


def summary_line(report: dict[str, Any]) -> str:
    held = report["held_out"]
    lfo = report["leave_family_out"]
    parts = [f"held-out AUROC {held['auroc']['value']} recall {held['recall']['value']} "
             f"precision {held['precision']['value']} false-positive rate {held['false_positive_rate']['value']} "
             f"(n {held['n']}); plain questions flagged {report['plain_questions']['flagged']}/{report['plain_questions']['n']}"]
    for name, block in lfo.items():
        parts.append(f"{name}: AUROC {block['auroc']['value']} recall {block['recall']['value']}")
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
