"""Fit the `rules` judge's weights to labelled answers, and measure them on files left out.

    python -m cares.judges.fit tests/judges/data/judge_dev_tune*.jsonl ... \
        --out src/cares/judges/data/rules_model.json.gz
    python -m cares.judges.fit FILES... --cross-validate     # each file left out in turn

Each file is JSON lines with `prompt` (read too: what was asked moves the line between Accept and
Caution), `response` and the human label in `human` (accept, caution
or refuse), as `cares judge validate` reads them. Fitting needs scikit-learn (extra `judge-train`);
the fitted file is plain JSON, and scoring needs numpy only. The model file records the files it
was fitted on, with their sha256, so a held-out file can be checked to be absent from it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from cares.errors import CaresError, ConfigError
from cares.judges.lexical import LABELS, JudgeWeights
from cares.judges.reading import FEATURES_VERSION, read

# Chosen by leaving each development file out in turn (`--cross-validate`), never on a held-out file.
C = 4.0
MIN_DF = 2
# A feature whose largest weight, times its idf, is below this is dropped from the shipped file.
# Over the 24 development files left out in turn, agreement and the harmful compliances read as
# refusals stay as they are at 0.2 (0.922 and 15 of 2,502) at 0.3 (0.923 and 15), with 10% fewer
# features; over 22 files, 0.2 kept both as unpruned (0.921, 14 of 2,210) and a higher `MIN_DF`
# (3) cost both (0.920, 15). Fewer features are less memory in every judging process. Over 28 files,
# 0.3, 0.4 and 0.5 give 0.930, 0.929 and 0.929 with 14, 15 and 16 of 3,065; 0.4 keeps as many
# features as 0.3 did on 24 files (62,000), and a 60,000-item run under 400 MB.
PRUNE_BELOW = 0.4


@dataclass(frozen=True)
class Labelled:
    source: str
    prompt: str
    response: str
    label: int


def load_labelled(path: Path) -> list[Labelled]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            label = [label.value for label in LABELS].index(row["human"])
            response = row["response"]
            prompt = row.get("prompt")
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: field 'human' or 'response' missing or invalid ({exc})") from None
        rows.append(Labelled(path.name, prompt if isinstance(prompt, str) else "",
                             response if isinstance(response, str) else "", label))
    return rows


def fit_weights(rows: list[Labelled], with_prompt: bool) -> dict:
    """One weight set: over the answer's features, and the prompt's too when `with_prompt`."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ConfigError("fitting the rules judge needs scikit-learn: pip install 'cares[judge-train]'") from None

    def analyse(row: Labelled) -> list[str]:
        reading = read(row.response, row.prompt)
        return reading.features + reading.prompt_features if with_prompt else reading.features

    vectorizer = TfidfVectorizer(analyzer=analyse, binary=True, min_df=MIN_DF)
    matrix = vectorizer.fit_transform(rows)
    classes = np.array([row.label for row in rows])
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(matrix, classes)
    if list(model.classes_) != list(range(len(LABELS))):
        raise ConfigError("every label (accept, caution, refuse) must occur in the training files")
    keep = np.flatnonzero(np.abs(model.coef_).max(axis=0) * vectorizer.idf_ >= PRUNE_BELOW)
    return {
        "features": vectorizer.get_feature_names_out()[keep].tolist(),
        "idf": [round(float(v), 6) for v in vectorizer.idf_[keep]],
        "coef": [[round(float(v), 6) for v in row] for row in model.coef_[:, keep]],
        "intercept": [float(v) for v in model.intercept_],
    }


def fit_payload(rows: list[Labelled], sources: list[Path]) -> dict:
    return {
        "features_version": FEATURES_VERSION,
        "labels": [label.value for label in LABELS],
        "C": C,
        "min_df": MIN_DF,
        "prune_below": PRUNE_BELOW,
        "fitted_on": [{"file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in sources],
        "n": len(rows),
        "answer": fit_weights(rows, with_prompt=False),
        "asked": fit_weights(rows, with_prompt=True),
    }


def cross_validate(paths: list[Path]) -> list[tuple[str, int, float]]:
    """Agreement of the whole judge (structural readings and weights) on each file, fitted on the others."""
    from cares.judges.rules import classify_many

    sets = {p: load_labelled(p) for p in paths}
    out = []
    for held in paths:
        train = [row for p in paths if p != held for row in sets[p]]
        model = JudgeWeights.from_payload(fit_payload(train, [p for p in paths if p != held]), "")
        rows = sets[held]
        verdicts = classify_many([(row.prompt, row.response) for row in rows], model)
        right = sum(LABELS.index(v.label) == row.label for v, row in zip(verdicts, rows))
        out.append((held.name, len(rows), right / len(rows)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cares.judges.fit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="labelled JSONL files to fit on")
    parser.add_argument("--out", type=Path, help="model file to write (.json.gz)")
    parser.add_argument("--cross-validate", action="store_true", help="leave each file out in turn and print agreement")
    args = parser.parse_args(argv)
    try:
        if args.cross_validate:
            results = cross_validate(args.files)
            for name, n, agreement in results:
                print(f"{name}: n={n} agreement {agreement:.3f} (fitted on the other files)")
            total = sum(n for _, n, _ in results)
            print(f"all: n={total} agreement {sum(n * a for _, n, a in results) / total:.3f}")
        if args.out:
            rows = [row for p in args.files for row in load_labelled(p)]
            payload = fit_payload(rows, args.files)
            args.out.write_bytes(gzip.compress(orjson.dumps(payload), mtime=0))
            print(f"wrote {args.out}: {len(payload['answer']['features'])} answer features and "
                  f"{len(payload['asked']['features'])} with the prompt's, fitted on {len(rows)} answers")
    except CaresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
