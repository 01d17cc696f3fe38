"""Training the jailbreak-style detector on CARES-18K-schema data.

Label 1 is a prompt written in an adversarial style (method indirect, obfuscate or role_play),
0 one asked directly. Rows are grouped by base prompt and every split is by group, so no base
prompt is seen in training and again in the test: a detector that merely recognised the
requests it was trained on would otherwise look far better than it is.

The threshold is chosen on out-of-fold scores: the training split is cut into grouped folds, a
model is fitted on all but one fold and scores the held-out one, and the policy (maximum F1 or
a target recall) is applied to those scores. The final model is then fitted on the whole
training split. The vector is the n-grams or the embedding plus the dense style features of
cares.guard.style_features. scikit-learn fits the logistic regressions (the `guard-train` extra); inference
never needs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cares import __version__
from cares.errors import ConfigError
from cares.guard import style_report
from cares.guard.data_sources import TrainingData, reported_family
from cares.guard.evaluation import evaluate_scores
from cares.guard.features import MINILM_PACKAGE, MiniLMEmbedder, NgramParams, NgramTfidf, TermTable
from cares.guard.modelfile import ModelFile, compact
from cares.guard.static_vectors import TABLE_NAME, StaticEmbedder, bundled_table
from cares.guard.style_features import FEATURISER_STYLE_NAMES, STYLE_NAMES, StyleScaler, style_matrix
from cares.guard.training_hooks import NO_HOOKS, TrainHooks

FEATURISERS = ("tfidf", "minilm")
# The regularisation and how far the standardised style features (cares.guard.style_features) are
# scaled before they join the vector (0 leaves them out). Chosen by grouped 5-fold cross-validation
# on the default corpus's training split: per-style recall, at the cut flagging 5% of direct
# prompts, of families left out of training, and in-distribution AUROC (docs/guard-detector.md).
# The test split and the never-tuned set played no part.
DEFAULT_C = {"tfidf": 3.0, "minilm": 3.0}
DEFAULT_STYLE_WEIGHT = {"tfidf": 0.4, "minilm": 0.4}
# Word n-grams of the prompt's first 6 tokens, marked as its opening (the frame). For tfidf also the
# first 3 words of every clause (a frame need not open the prompt), and the word n-grams and clause
# terms each normalised as a block of their own beside the character n-grams, which otherwise set
# the row's norm and drown the few words that carry a frame. Chosen on the same CV.
DEFAULT_NGRAM = {
    "tfidf": NgramParams(edge_words=6, word_weight=1.0, clause_words=3, clause_weight=1.0),
    "minilm": NgramParams(edge_words=6),
}
# minilm: the n-grams without clause terms or blocks, beside MiniLM embeddings of the prompt's first
# 2, 4 and 8 words and its last 6, each scaled by MINILM_WEIGHT. The openings and the close carry the frame in words the
# n-grams never saw ("playing devil's advocate," and "taking the contrarian position," embed close
# together); an embedding of the whole prompt is mostly its topic and added nothing in CV.
DEFAULT_VIEWS = ("head:2", "head:4", "head:8", "tail:6")
MINILM_WEIGHT = 0.3
# tfidf: static MiniLM token vectors (cares.guard.static_vectors; numpy only at inference) of those
# views, of the last 3 words and of the first 3 words of every later clause, at weight 1. They reach
# frame words the n-grams never saw, as the MiniLM embeddings do. Chosen on the same CV.
STATIC_VIEWS = ("head:2", "head:4", "head:8", "tail:6", "tail:3", "clause:3")
STATIC_WEIGHT = 1.0
THRESHOLD_FOLDS = 5
# Which base prompts share a fold moves the cut: one draw of 5 folds put the shipped tfidf
# threshold anywhere from 0.66 to 0.73 depending on the seed. The scores of several draws, pooled,
# give the cut the rule means rather than one draw's luck.
THRESHOLD_DRAWS = 5
NAMED_POLICIES = ("youden", "max-f1")
DEFAULT_POLICY = "direct-fpr:0.05"
_RECALL_POLICY = re.compile(r"^recall:(0?\.\d+|1(\.0+)?)$")
_DIRECT_FPR_POLICY = re.compile(r"^direct-fpr:(0?\.\d+|0)$")
_FIXED_POLICY = re.compile(r"^fixed:(0?\.\d+|1(\.0+)?|0)$")


@dataclass(frozen=True)
class ThresholdPolicy:
    """`direct-fpr:0.05` (the lowest threshold, so the highest recall, at which at most that share of
    direct prompts is flagged), `youden` (maximum recall minus false-positive rate), `max-f1`,
    `recall:0.9` (the highest threshold that keeps that recall) or `fixed:0.5`.

    `direct-fpr:0.05` is the default because the reminder policy rests on direct prompts going
    unflagged: it caps what a deployment, which sees mostly direct prompts, pays in false flags,
    and only then buys as much recall as it can. It does not depend on the share of adversarial
    prompts in the training data, whereas F1 rewards flagging more when that share is high."""

    spec: str = DEFAULT_POLICY

    def __post_init__(self) -> None:
        if self.spec not in NAMED_POLICIES and not any(
                pattern.match(self.spec) for pattern in (_RECALL_POLICY, _FIXED_POLICY, _DIRECT_FPR_POLICY)):
            raise ConfigError(f"unknown threshold policy {self.spec!r}; use direct-fpr:0.05, youden, max-f1, "
                              "recall:0.9 or fixed:0.5")

    def choose(self, scores: np.ndarray, labels: np.ndarray) -> float:
        if self.spec.startswith("fixed:"):
            return float(self.spec.split(":", 1)[1])
        order = np.argsort(-scores, kind="mergesort")
        ranked, positive = scores[order], labels[order] == 1
        # Cut after each distinct score: everything at or above it is flagged.
        last_of_value = np.append(ranked[1:] != ranked[:-1], True)
        tp = np.cumsum(positive)[last_of_value]
        flagged = (np.arange(len(ranked)) + 1)[last_of_value]
        cuts = ranked[last_of_value]
        total_pos = max(int(positive.sum()), 1)
        if self.spec == "youden":
            fp = flagged - tp
            total_neg = max(int((~positive).sum()), 1)
            best = int(np.argmax(tp / total_pos - fp / total_neg))
        elif self.spec == "max-f1":
            f1 = 2 * tp / (flagged + total_pos)
            best = int(np.argmax(f1))
        elif self.spec.startswith("direct-fpr:"):
            cap = float(self.spec.split(":", 1)[1])
            fp_rate = (flagged - tp) / max(int((~positive).sum()), 1)
            # Cuts run from the highest score down, so false flags only grow: take the last one within the cap.
            within = np.nonzero(fp_rate <= cap + 1e-12)[0]
            if not within.size:
                return float(min(1.0, np.nextafter(cuts[0], np.inf)))  # even the top score is a direct prompt
            best = int(within[-1])
        else:
            target = float(self.spec.split(":", 1)[1])
            reaching = np.nonzero(tp / total_pos >= target - 1e-12)[0]
            best = int(reaching[0]) if reaching.size else len(cuts) - 1
        # Halfway to the next lower score: the final model, fitted on more data, scores a little
        # more confidently than the fold models did, and a cut exactly on a score is brittle.
        lower = cuts[best + 1] if best + 1 < len(cuts) else 0.0
        return float((cuts[best] + lower) / 2)

    def describe(self, draws: int = 1) -> str:
        oof = (f"out-of-fold scores ({THRESHOLD_FOLDS} folds grouped by base prompt"
               + (f", {draws} draws pooled" if draws > 1 else "") + ")")
        if self.spec.startswith("direct-fpr:"):
            return (f"lowest threshold (highest recall) flagging at most {self.spec.split(':', 1)[1]} of direct "
                    f"prompts, on {oof} of the training split")
        if self.spec == "youden":
            return f"maximum recall minus false-positive rate (Youden's J) on {oof} of the training split"
        if self.spec == "max-f1":
            return f"maximum F1 on {oof} of the training split"
        if self.spec.startswith("recall:"):
            return f"highest threshold reaching recall {self.spec.split(':', 1)[1]} on {oof} of the training split"
        return "fixed by the trainer"


@dataclass
class TrainConfig:
    featuriser: str = "tfidf"
    policy: ThresholdPolicy = field(default_factory=ThresholdPolicy)
    test_fraction: float = 0.25
    seed: int = 0
    c: float | None = None
    ngram: NgramParams | None = None  # None: the featuriser's DEFAULT_NGRAM
    style_weight: float | None = None
    resamples: int = 1000
    # Leave family out costs one more fit per held-out family (or per fold of families); it runs
    # when the data names its families.
    leave_family_out: bool = True
    family_folds: int = style_report.FAMILY_FOLDS
    threshold_draws: int = THRESHOLD_DRAWS  # fold draws whose out-of-fold scores the threshold pools

    def __post_init__(self) -> None:
        if self.featuriser not in FEATURISERS:
            raise ConfigError(f"unknown featuriser {self.featuriser!r}; use {', '.join(FEATURISERS)}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"--test-fraction must be between 0 and 1 (exclusive), got {self.test_fraction}")
        if self.c is not None and self.c <= 0:
            raise ConfigError(f"regularisation C must be positive, got {self.c}")
        if self.family_folds == 1 or self.family_folds < 0:
            raise ConfigError(
                f"--family-folds must be 0 (each family held out in turn) or at least 2, got {self.family_folds}"
            )
        if self.threshold_draws < 1:
            raise ConfigError(f"--threshold-draws must be at least 1, got {self.threshold_draws}")
        if self.style_weight is not None and self.style_weight < 0:
            raise ConfigError(f"the style feature weight must be 0 or more, got {self.style_weight}")

    @property
    def ngram_params(self) -> NgramParams:
        return self.ngram if self.ngram is not None else DEFAULT_NGRAM[self.featuriser]

    @property
    def scored_draws(self) -> int:
        """Fold draws whose out-of-fold scores the threshold reads: none for a fixed threshold."""
        return 0 if self.policy.spec.startswith("fixed:") else self.threshold_draws

    @property
    def regularisation(self) -> float:
        return self.c if self.c is not None else DEFAULT_C[self.featuriser]

    @property
    def style(self) -> float:
        return self.style_weight if self.style_weight is not None else DEFAULT_STYLE_WEIGHT[self.featuriser]


@dataclass
class TrainResult:
    model: ModelFile
    metrics: dict[str, Any]  # held out: the test split scored by the shipped model
    test_scores: list[float]
    # "leave_family_out" and "never_tuned" (cares.guard.style_report), each None when not measured
    report: dict[str, Any] = field(default_factory=dict)


def ranked_groups(groups: Sequence[str], seed: int) -> list[str]:
    """Distinct groups in a seeded order that does not depend on Python's hash()."""
    return sorted(set(groups), key=lambda g: hashlib.sha256(f"{seed}\x1f{g}".encode()).digest())


def grouped_split(groups: Sequence[str], test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Row indices of the train and test sides; a group's rows are all on one side."""
    order = ranked_groups(groups, seed)
    if len(order) < 4:
        raise ConfigError(f"only {len(order)} distinct base prompts; a grouped split needs at least 4")
    n_test = min(max(1, round(test_fraction * len(order))), len(order) - 2)
    test_groups = set(order[:n_test])
    train = [i for i, g in enumerate(groups) if g not in test_groups]
    test = [i for i, g in enumerate(groups) if g in test_groups]
    return train, test


def grouped_folds(groups: Sequence[str], k: int, seed: int) -> np.ndarray:
    order = ranked_groups(groups, seed)
    fold_of = {g: i % k for i, g in enumerate(order)}
    return np.fromiter((fold_of[g] for g in groups), dtype=np.int64, count=len(groups))


def require_training_packages(featuriser: str) -> None:
    """Fail before any data is read or model fitted when a needed package cannot be imported."""
    try:
        import scipy.sparse  # noqa: F401
        import sklearn.linear_model  # noqa: F401
    except ImportError:
        raise ConfigError("training a detector needs scikit-learn: pip install 'cares[guard-train]'") from None
    if featuriser == "minilm":
        MiniLMEmbedder.require()


def _logistic_regression(c: float, seed: int) -> Any:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ConfigError("training a detector needs scikit-learn: pip install 'cares[guard-train]'") from None
    # Balanced class weights: the CARES layout has three rewrites per direct prompt, and a
    # deployment sees mostly direct prompts, so the prior should not lean towards flagging.
    return LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=5000, random_state=seed)


@dataclass
class FittedModel:
    kind: str
    weights: np.ndarray
    bias: float
    tfidf: NgramTfidf | None = None
    style: StyleScaler | None = None
    columns: np.ndarray | None = None  # the vocabulary's columns in the run's TermTable
    embedding_dim: int = 0  # minilm: the embedding weights follow the term weights

    @property
    def base_dim(self) -> int:
        """Weights before the style features: one per term and embedding dimension."""
        return len(self.weights) - (self.style.dim if self.style is not None else 0)

    @property
    def term_dim(self) -> int:
        return self.base_dim - self.embedding_dim


class Featurised:
    """Texts of one data set, featurised once: MiniLM embeddings are costly, so every fit reuses them."""

    def __init__(self, kind: str, texts: Sequence[str], groups: Sequence[str], ngram: NgramParams,
                 style_weight: float | None = None) -> None:
        self.kind, self.texts, self.groups, self.ngram = kind, list(texts), list(groups), ngram
        self.style_weight = DEFAULT_STYLE_WEIGHT[kind] if style_weight is None else style_weight
        self.embeddings = (
            MiniLMEmbedder(views=DEFAULT_VIEWS).embed(self.texts) * MINILM_WEIGHT if kind == "minilm"
            else StaticEmbedder(STATIC_VIEWS).embed(self.texts) * STATIC_WEIGHT
        )
        self.table = TermTable(self.texts, self.groups, ngram)
        self.style_names = FEATURISER_STYLE_NAMES[kind]
        columns = [STYLE_NAMES.index(name) for name in self.style_names]
        self.style_raw = style_matrix(self.texts)[:, columns] if self.style_weight > 0 else None

    def _style(self, scaler: StyleScaler | None, rows: Sequence[int]) -> np.ndarray | None:
        if scaler is None or self.style_raw is None:
            return None
        return scaler.transform(self.style_raw[list(rows)])

    def fit(self, rows: Sequence[int], labels: np.ndarray, c: float, seed: int) -> FittedModel:
        y = labels[list(rows)]
        if len(set(y.tolist())) < 2:
            raise ConfigError(
                "the training rows hold only one class; a detector needs both direct and rewritten prompts"
            )
        model = _logistic_regression(c, seed)
        # The scaler is fitted on the training rows only, like the vocabulary.
        scaler = (
            StyleScaler.fit(self.style_raw[list(rows)], names=self.style_names, weight=self.style_weight)
            if self.style_raw is not None
            else None
        )
        style = self._style(scaler, rows)
        tfidf, columns = self.table.fit(rows)
        if tfidf.dim == 0:
            raise ConfigError("no n-gram occurs under enough base prompts to learn from; give more data")
        from scipy.sparse import csr_matrix, hstack

        parts: list[Any] = [self.table.matrix(tfidf, columns, rows)]
        if self.embeddings is not None:
            parts.append(csr_matrix(self.embeddings[list(rows)]))
        if style is not None:
            parts.append(csr_matrix(style))
        model.fit(hstack(parts, format="csr"), y)
        embedding_dim = self.embeddings.shape[1] if self.embeddings is not None else 0
        return FittedModel(self.kind, model.coef_[0].astype(np.float64), float(model.intercept_[0]), tfidf, scaler,
                           columns, embedding_dim)

    def scores(self, fitted: FittedModel, rows: Sequence[int]) -> np.ndarray:
        weights = fitted.weights
        if fitted.tfidf is not None and fitted.columns is not None:
            logits = self.table.matrix(fitted.tfidf, fitted.columns, rows) @ weights[: fitted.term_dim] + fitted.bias
        else:
            assert fitted.tfidf is not None
            logits = fitted.tfidf.decision([self.texts[i] for i in rows], weights[: fitted.term_dim], fitted.bias)
        if fitted.embedding_dim:
            assert self.embeddings is not None
            logits = logits + self.embeddings[list(rows)] @ weights[fitted.term_dim: fitted.base_dim]
        style = self._style(fitted.style, rows)
        if style is not None:
            logits = logits + style @ weights[fitted.base_dim:]
        return 1.0 / (1.0 + np.exp(-logits))


def out_of_fold_scores(data: Featurised, rows: Sequence[int], labels: np.ndarray, c: float, seed: int,
                       hooks: TrainHooks = NO_HOOKS) -> np.ndarray:
    """Each row's score by a model fitted on the other folds of one draw of grouped folds."""
    rows = list(rows)
    folds = grouped_folds([data.groups[i] for i in rows], THRESHOLD_FOLDS, seed)
    scores = np.zeros(len(rows))
    for fold in range(THRESHOLD_FOLDS):
        held = np.nonzero(folds == fold)[0]
        kept = np.nonzero(folds != fold)[0]
        if held.size == 0:
            continue
        fitted = data.fit([rows[i] for i in kept], labels, c, seed)
        hooks.fitted()
        scores[held] = data.scores(fitted, [rows[i] for i in held])
    return scores


def pooled_out_of_fold_scores(data: Featurised, rows: Sequence[int], labels: np.ndarray, c: float, seed: int,
                              draws: int, hooks: TrainHooks = NO_HOOKS) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores of `draws` fold draws (seeds seed, seed + 1, ...) end to end, with their labels."""
    scores = [out_of_fold_scores(data, rows, labels, c, seed + draw, hooks) for draw in range(draws)]
    return np.concatenate(scores or [np.zeros(0)]), np.tile(labels[list(rows)], draws)


def threshold_fits(groups: Sequence[str], seed: int, draws: int) -> int:
    """The fits `pooled_out_of_fold_scores` makes: a fold can be empty on small data."""
    return sum(len(set(grouped_folds(groups, THRESHOLD_FOLDS, seed + draw).tolist())) for draw in range(draws))


def train_detector(data: TrainingData, config: TrainConfig, featurised: Featurised | None = None,
                   hooks: TrainHooks = NO_HOOKS) -> TrainResult:
    """Split by group, choose the threshold on the training side, fit, and measure on the test side."""
    groups = [row.group for row in data.rows]
    train_rows, test_rows = grouped_split(groups, config.test_fraction, config.seed)
    if featurised is None:
        hooks.stage(f"featurising {len(data.rows)} prompts", 0)
        featurised = Featurised(config.featuriser, [row.prompt for row in data.rows], groups, config.ngram_params,
                                config.style)
    fitted, threshold, metrics, test_scores = fit_and_measure(data, featurised, train_rows, test_rows, config, hooks)
    metrics["split"] = {
        "by": "base prompt", "test_fraction": config.test_fraction, "seed": config.seed,
        "train_rows": len(train_rows), "test_rows": len(test_rows),
        "train_groups": len({groups[i] for i in train_rows}), "test_groups": len({groups[i] for i in test_rows}),
    }
    metrics["sweep"] = style_report.sweep(test_scores, np.asarray([data.rows[i].method for i in test_rows]))
    lfo = None
    if data.has_families and config.leave_family_out:
        lfo = style_report.leave_family_out(data, featurised, train_rows, test_rows, config.regularisation, threshold,
                                            resamples=config.resamples, seed=config.seed,
                                            folds=config.family_folds, hooks=hooks)
    summary = (
        {"leave_family_out": {key: lfo[key] for key in ("threshold", "auroc", "flag_rate_by_method")}} if lfo else {}
    )
    model = model_file(fitted, config, threshold, data, metrics, n_train=len(train_rows), extra=summary)
    from cares.guard.detector import Detector

    # The never-tuned rows are scored through the model file itself: exactly what ships.
    held = style_report.never_tuned(Detector(model, "<trained>"), data, resamples=config.resamples, seed=config.seed)
    report: dict[str, Any] = {"leave_family_out": lfo, "never_tuned": held}
    if data.has_families and config.leave_family_out and lfo is None:
        report["leave_family_out_note"] = ("not measured: holding out any of the data's wording families leaves "
                                           "no rewrite to train on")
    return TrainResult(model, metrics, [float(s) for s in test_scores], report)


def fit_and_measure(data: TrainingData, featurised: Featurised, train_rows: Sequence[int], test_rows: Sequence[int],
                    config: TrainConfig, hooks: TrainHooks = NO_HOOKS
                    ) -> tuple[FittedModel, float, dict[str, Any], np.ndarray]:
    """Threshold from out-of-fold scores of `train_rows`, a fit on all of them, metrics on `test_rows`."""
    labels = np.asarray([row.label for row in data.rows], dtype=np.int64)
    if len(set(labels[list(test_rows)].tolist())) < 2:
        raise ConfigError("the test split holds only one class; use a larger --test-fraction or more data")
    c = config.regularisation
    draws = config.scored_draws
    groups = [featurised.groups[i] for i in train_rows]
    hooks.stage("threshold and model", threshold_fits(groups, config.seed, draws) + 1)
    oof, oof_labels = pooled_out_of_fold_scores(featurised, train_rows, labels, c, config.seed, draws, hooks)
    threshold = config.policy.choose(oof, oof_labels)
    fitted = featurised.fit(train_rows, labels, c, config.seed)
    hooks.fitted()
    test_scores = featurised.scores(fitted, test_rows)
    metrics = evaluate_scores(
        test_scores, labels[list(test_rows)], [data.rows[i].group for i in test_rows], threshold,
        methods=[data.rows[i].method for i in test_rows],
        families=[reported_family(data.rows[i]) for i in test_rows] if data.has_families else None,
        resamples=config.resamples, seed=config.seed,
    )
    return fitted, threshold, metrics, test_scores


def build_date() -> str:
    # SOURCE_DATE_EPOCH pins the date, so a rebuild can reproduce a shipped file byte for byte.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (
        dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
        if epoch and epoch.isdigit()
        else dt.datetime.now(dt.timezone.utc)
    )
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def model_file(fitted: FittedModel, config: TrainConfig, threshold: float, data: TrainingData,
               metrics: dict[str, Any], *, n_train: int, extra: dict[str, Any] | None = None) -> ModelFile:
    assert fitted.tfidf is not None
    featuriser: dict[str, Any] = {
        "kind": fitted.kind,
        "params": fitted.tfidf.params.to_dict(),
        "terms": fitted.tfidf.terms,
        "idf": [compact(v) for v in fitted.tfidf.idf.tolist()],
        "normalisation": "NFKC, casefold, whitespace collapsed",
    }
    if fitted.embedding_dim and fitted.kind == "minilm":
        featuriser["embedding"] = {"model": MINILM_PACKAGE, "dim": fitted.embedding_dim, "views": list(DEFAULT_VIEWS),
                                   "weight": MINILM_WEIGHT, "normalised_embeddings": True}
    elif fitted.embedding_dim:
        table = bundled_table()
        featuriser["embedding"] = {"source": "static", "table": TABLE_NAME, "table_sha256": table.sha256,
                                   "dim": fitted.embedding_dim, "views": list(STATIC_VIEWS), "weight": STATIC_WEIGHT}
    if fitted.style is not None:
        featuriser["style"] = fitted.style.to_dict()
    return ModelFile.build({
        "featuriser": featuriser,
        "classifier": {
            "kind": "logistic_regression",
            "weights": [compact(w) for w in fitted.weights.tolist()],
            "bias": compact(fitted.bias),
            "params": {"C": config.regularisation, "penalty": "l2", "class_weight": "balanced", "solver": "liblinear"},
        },
        "threshold": {"value": round(threshold, 6), "policy": config.policy.spec,
                      "how": config.policy.describe(config.scored_draws), "draws": config.scored_draws},
        "training": {
            "data": data.provenance,
            "n_train": n_train,
            "label": "1 if method != 'direct' else 0",
            "date": build_date(),
            "cares_version": __version__,
            "seed": config.seed,
        },
        "metrics": {"held_out": metrics, **(extra or {})},
    })
