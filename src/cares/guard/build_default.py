"""Build the detectors that ship with cares, measure them, and write their metrics.

    python -m cares.guard.build_default [--output-dir DIR] [--seed 0] [--featuriser tfidf|minilm|both]

Trains the TF-IDF and MiniLM detectors on the bundled corpus (cares.guard.corpus.default_corpus)
with a split grouped by base prompt, and writes detector-tfidf.json.gz, detector-minilm.json.gz and
detector-metrics.json (to src/cares/guard/data by default). Set SOURCE_DATE_EPOCH to reproduce a
shipped file byte for byte.

Everything `cares guard train --data default` measures is recorded (cares.guard.style_report):
recall per style and false flags on direct prompts at the shipped threshold and across
thresholds, on the held-out split, with every wording family left out of training in turn, and on
the never-tuned set. Besides those:

- train on the CARES-style rewrites (the bundled sample and the rule-based rewrites) and test on
  the hand-written, authored and generic-attack rewrites, and the reverse;
- a check set of plain medical questions written apart from the corpus
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

from cares.guard.data_sources import TrainingData, load_training_data
from cares.guard.detector import Detector, builtin_path
from cares.guard.train import (
    Featurised,
    TrainConfig,
    fit_and_measure,
    grouped_split,
    train_detector,
)

METRICS_NAME = "detector-metrics.json"
PLAIN_QUESTIONS_NAME = "detector-plain-questions.txt"
BUILD_COMMAND = "python -m cares.guard.build_default"


def is_cares_style(family: str) -> bool:
    return family == "sample" or family.startswith("rules:")


def is_novel(family: str) -> bool:
    return family.startswith(("handwritten:", "authored:", "augment:"))


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


def build(kind: str, data: TrainingData, config: TrainConfig, output_dir: Path) -> dict[str, Any]:
    featurised = Featurised(kind, [r.prompt for r in data.rows], [r.group for r in data.rows], config.ngram_params,
                            config.style)
    result = train_detector(data, config, featurised)
    path = output_dir / builtin_path(kind).name
    result.model.write(path)
    report = {
        "file": path.name,
        "sha256": result.model.sha256,
        "threshold": result.model.content["threshold"],
        "held_out": result.metrics,
        "leave_family_out": result.report["leave_family_out"],
        "never_tuned": result.report["never_tuned"],
        "plain_questions": plain_question_check(Detector(result.model, str(path))),
        "cares_style_vs_novel": {
            "train_cares_style_test_novel": leave_family_out(data, featurised, config, is_novel),
            "train_novel_test_cares_style": leave_family_out(data, featurised, config, is_cares_style),
        },
    }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=BUILD_COMMAND, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=builtin_path("tfidf").parent)
    parser.add_argument("--featuriser", choices=("tfidf", "minilm", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="default", help="training data (default: the bundled corpus)")
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
        metrics["detectors"][kind] = build(kind, data, config, args.output_dir)
        print(f"built {kind}: " + summary_line(metrics["detectors"][kind]), file=sys.stderr)
    metrics_path = args.output_dir / METRICS_NAME
    metrics_path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {metrics_path}", file=sys.stderr)
    return 0


def summary_line(report: dict[str, Any]) -> str:
    held = report["held_out"]
    parts = [f"held-out AUROC {held['auroc']['value']} false-positive rate {held['false_positive_rate']['value']} "
             f"(n {held['n']}); plain questions flagged "
             f"{report['plain_questions']['flagged']}/{report['plain_questions']['n']}"]
    for name in ("leave_family_out", "never_tuned"):
        block = report.get(name)
        if block:
            rates = block["flag_rate_by_method"]
            parts.append(f"{name}: " + ", ".join(f"{m} {rates[m]['value']}" for m in sorted(rates)))
    for name, block in report["cares_style_vs_novel"].items():
        parts.append(f"{name}: AUROC {block['auroc']['value']} recall {block['recall']['value']}")
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
