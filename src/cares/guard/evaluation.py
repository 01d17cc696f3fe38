"""Held-out metrics of a detector, with confidence intervals from a bootstrap over base prompts.

A base prompt and its rewrites are correlated (same topic, same words), so the resampling unit is
the group, as in cares.metrics.bootstrap. Every metric of one evaluation comes from the same
resamples: each resample weights every item by how often its group was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cares.metrics.bootstrap import ClusterBootstrap

RESAMPLES = 1000
LEVEL = 0.95


def weighted_auroc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC under each row of `weights` (resamples x items); ties count one half. NaN if a class is absent."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores, positive = scores[order], labels[order] == 1
    w = weights[:, order]
    w_neg = np.where(positive, 0.0, w)
    cum_neg = np.cumsum(w_neg, axis=1)
    _, block_start = np.unique(sorted_scores, return_index=True)
    block_end = np.append(block_start[1:], len(sorted_scores))
    block_of = np.repeat(np.arange(len(block_start)), block_end - block_start)
    zeros = np.zeros((w.shape[0], 1))
    before = np.hstack([zeros, cum_neg])[:, block_start]  # negatives strictly below each block
    through = cum_neg[:, block_end - 1]
    below, within = before[:, block_of], (through - before)[:, block_of]
    w_pos = np.where(positive, w, 0.0)
    numerator = np.sum(w_pos * (below + 0.5 * within), axis=1)
    denominator = w_pos.sum(axis=1) * w_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _interval(point: float | None, samples: np.ndarray, n: int) -> dict[str, Any]:
    finite = samples[np.isfinite(samples)]
    if point is None or not np.isfinite(point):
        return {"value": None, "ci": [None, None], "n": n}
    if finite.size == 0:
        return {"value": round(float(point), 4), "ci": [None, None], "n": n}
    alpha = (1 - LEVEL) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return {"value": round(float(point), 4), "ci": [round(float(low), 4), round(float(high), 4)], "n": n}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _point(value: np.ndarray) -> float | None:
    number = float(value[0])
    return number if np.isfinite(number) else None


def evaluate_scores(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    groups: Sequence[str],
    threshold: float,
    *,
    methods: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """AUROC, and precision, recall, F1, accuracy and false-positive rate at `threshold`, each with
    a 95% percentile CI over resampled groups; per-method flag rates and per-family recall too."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    boot = ClusterBootstrap(list(groups), resamples=resamples, seed=seed, level=LEVEL)
    cluster = np.fromiter((boot.index[g] for g in groups), dtype=np.int64, count=len(groups))
    # Row 0 is the observed sample (every item once); the rest are the resamples.
    weights = np.vstack([np.ones(len(s)), boot.weights[:, cluster]]) if len(s) else np.zeros((1, 0))
    flagged = s >= threshold
    pos, neg = y == 1, y == 0
    tp = weights @ (pos & flagged)
    fp = weights @ (neg & flagged)
    fn = weights @ (pos & ~flagged)
    tn = weights @ (neg & ~flagged)
    precision, recall, fpr = _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(fp, fp + tn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    accuracy = _ratio(tp + tn, tp + fp + fn + tn)
    auroc = weighted_auroc(s, y, weights) if len(s) else np.array([np.nan])
    n_flagged, n_pos, n_neg = int(flagged.sum()), int(pos.sum()), int(neg.sum())
    result: dict[str, Any] = {
        "n": len(s),
        "n_groups": len(boot.names),
        "n_adversarial": n_pos,
        "n_direct": n_neg,
        "threshold": round(float(threshold), 6),
        "auroc": _interval(_point(auroc), auroc[1:], len(s)),
        "precision": _interval(_point(precision), precision[1:], n_flagged),
        "recall": _interval(_point(recall), recall[1:], n_pos),
        "f1": _interval(_point(f1), f1[1:], len(s)),
        "accuracy": _interval(_point(accuracy), accuracy[1:], len(s)),
        "false_positive_rate": _interval(_point(fpr), fpr[1:], n_neg),
        "bootstrap": {"unit": "base prompt", "resamples": resamples, "seed": seed, "level": LEVEL},
    }
    if methods is not None:
        result["flag_rate_by_method"] = _flag_rates(methods, flagged, weights)
    if families is not None:
        result["flag_rate_by_family"] = _flag_rates(families, flagged, weights)
    return result


def _flag_rates(keys: Sequence[str], flagged: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
    """Mean of `flagged` (booleans, or shares in 0-1) per key, with the resamples' intervals."""
    key_array = np.asarray(list(keys))
    values = np.asarray(flagged, dtype=np.float64)
    rates = {}
    for key in sorted(set(keys)):
        members = (key_array == key).astype(np.float64)
        rate = _ratio(weights @ (members * values), weights @ members)
        rates[key] = _interval(_point(rate), rate[1:], int(members.sum()))
    return rates


def rates_by_key(keys: Sequence[str], values: Sequence[float], groups: Sequence[str], *,
                 resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Per key, the mean of `values` (1 flagged, 0 not, or a share of models that flagged the row),
    with a 95% CI from resampling base prompts."""
    if not len(values):
        return {}
    boot = ClusterBootstrap(list(groups), resamples=resamples, seed=seed, level=LEVEL)
    cluster = np.fromiter((boot.index[g] for g in groups), dtype=np.int64, count=len(groups))
    weights = np.vstack([np.ones(len(values)), boot.weights[:, cluster]])
    return _flag_rates(keys, np.asarray(values, dtype=np.float64), weights)
