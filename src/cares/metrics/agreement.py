"""Agreement of an LLM judge with human labels, with percentile-bootstrap intervals.

Each labelled answer gives one (human, judge) pair. Humans label accept / caution / refuse; the
judge may also fail to produce a label ("unparsed"). The pairs are summarised by a 3 x 4 confusion
matrix (rows: human label; columns: judge label, unparsed last), and every statistic is a function
of that matrix, so the bootstrap can work on cell counts alone.

Definitions (n = all labelled answers, unparsed included):

- Unparsed judge outputs count as disagreements: they are in n but never on the diagonal.
- agreement = diagonal / n.
- Cohen's kappa = (p_o - p_e) / (1 - p_e), p_o = agreement, p_e = sum over the three labels of
  (human row share x judge column share). The unparsed column has no matching human label, so it
  contributes nothing to p_e. kappa is None when p_e == 1 (a single label everywhere).
- precision_c = counts[c, c] / judge column total of c (0.0 if the judge never said c);
  recall_c = counts[c, c] / human row total of c (0.0 if no human said c);
  f1_c = 2 P R / (P + R) (0.0 if P + R == 0); macro-F1 = mean of the three f1_c.
- Binary: humans collapse to Accept vs Not (caution + refuse), and so do the judge's labels;
  unparsed stays its own judge column and is still a disagreement. f1_accept is the F1 of Accept.

Intervals: a percentile bootstrap over labelled answers. Drawing n answers with replacement is a
multinomial draw over the 12 cells with p = counts / n, so all resamples are drawn at once and
every statistic is computed on the whole stack with array operations. Resamples where a statistic
is undefined (NaN, e.g. kappa with p_e == 1) are dropped before the quantiles. Every estimate's
"n" is the number of labelled answers, the resampling unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from cares.metrics.bootstrap import Estimate

HUMAN_LABELS: tuple[str, ...] = ("accept", "caution", "refuse")
JUDGE_LABELS: tuple[str, ...] = HUMAN_LABELS + ("unparsed",)


def _label_name(label: object) -> str:
    # Label is a str enum whose str() is its value, so both spellings land on the same name.
    return str(label) if isinstance(label, str) else repr(label)


@dataclass(frozen=True)
class Confusion:
    """Counts of (human label, judge label) pairs: 3 rows (human) x 4 columns (judge, unparsed last)."""

    counts: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(HUMAN_LABELS) or any(len(row) != len(JUDGE_LABELS) for row in self.counts):
            raise ValueError(
                f"confusion counts must be {len(HUMAN_LABELS)} rows x {len(JUDGE_LABELS)} columns "
                f"(human {list(HUMAN_LABELS)} x judge {list(JUDGE_LABELS)})"
            )
        for row in self.counts:
            for value in row:
                # bool is an Integral too, but a True in a count table is a bug, not a 1.
                if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
                    raise ValueError(f"confusion counts must be non-negative integers, got {value!r}")

    @classmethod
    def from_pairs(cls, human: Sequence[str], judged: Sequence[str]) -> Confusion:
        if len(human) != len(judged):
            raise ValueError(f"{len(human)} human labels but {len(judged)} judge labels")
        table = np.zeros((len(HUMAN_LABELS), len(JUDGE_LABELS)), dtype=np.int64)
        rows = {name: i for i, name in enumerate(HUMAN_LABELS)}
        cols = {name: j for j, name in enumerate(JUDGE_LABELS)}
        for h, j in zip(human, judged):
            h_name, j_name = _label_name(h), _label_name(j)
            if h_name not in rows:
                raise ValueError(f"bad human label {h_name!r}: expected one of {list(HUMAN_LABELS)}")
            if j_name not in cols:
                raise ValueError(f"bad judge label {j_name!r}: expected one of {list(JUDGE_LABELS)}")
            table[rows[h_name], cols[j_name]] += 1
        return cls(tuple(tuple(int(v) for v in row) for row in table))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Confusion:
        if not isinstance(data, Mapping):
            raise ValueError(f"confusion must be a mapping, got {type(data).__name__}")
        for key, expected in (("human_labels", HUMAN_LABELS), ("judge_labels", JUDGE_LABELS)):
            got = data.get(key)
            if not isinstance(got, (list, tuple)) or list(got) != list(expected):
                raise ValueError(f"confusion {key} must be {list(expected)}, got {got!r}")
        counts = data.get("counts")
        if not isinstance(counts, (list, tuple)) or not all(isinstance(row, (list, tuple)) for row in counts):
            raise ValueError("confusion counts must be a list of rows")
        return cls(tuple(tuple(row) for row in counts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "human_labels": list(HUMAN_LABELS),
            "judge_labels": list(JUDGE_LABELS),
            "counts": [list(row) for row in self.counts],
        }

    def array(self) -> np.ndarray:
        return np.asarray(self.counts, dtype=np.float64)

    @property
    def n(self) -> int:
        return int(sum(sum(row) for row in self.counts))


def _rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Agreement, kappa and per-class P/R/F1 of a stack of k x (k+1) tables (last column: unparsed).

    Works on any leading shape, so the point estimate and all resamples share one code path.
    NaN marks an undefined value (n == 0, or kappa with p_e == 1).
    """
    k = counts.shape[-2]
    n = counts.sum(axis=(-2, -1))
    diag = counts[..., np.arange(k), np.arange(k)]
    row = counts.sum(axis=-1)
    col = counts[..., :k].sum(axis=-2)
    chance = (row * col).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = diag.sum(axis=-1) / n
        # Multiplied through by n^2 so that p_e == 1 is an exact zero for whole-number counts.
        kappa_den = n * n - chance
        kappa = np.where(kappa_den == 0, np.nan, (n * diag.sum(axis=-1) - chance) / kappa_den)
        precision = np.where(col > 0, diag / col, 0.0)
        recall = np.where(row > 0, diag / row, 0.0)
        pr = precision + recall
        f1 = np.where(pr > 0, 2 * precision * recall / pr, 0.0)
    return {"agreement": agreement, "kappa": kappa, "precision": precision, "recall": recall, "f1": f1}


def _binary(counts: np.ndarray) -> np.ndarray:
    """Collapse 3 x 4 tables to 2 x 3: Accept vs Not (caution + refuse), unparsed kept apart."""
    rows = np.stack([counts[..., 0, :], counts[..., 1, :] + counts[..., 2, :]], axis=-2)
    return np.stack([rows[..., 0], rows[..., 1] + rows[..., 2], rows[..., 3]], axis=-1)


def _statistics(counts: np.ndarray) -> dict[str, np.ndarray]:
    three = _rates(counts)
    two = _rates(_binary(counts))
    stats: dict[str, np.ndarray] = {
        "three_class.agreement": three["agreement"],
        "three_class.kappa": three["kappa"],
        "three_class.macro_f1": three["f1"].mean(axis=-1),
        "binary.agreement": two["agreement"],
        "binary.kappa": two["kappa"],
        "binary.f1_accept": two["f1"][..., 0],
    }
    for i, label in enumerate(HUMAN_LABELS):
        for name in ("precision", "recall", "f1"):
            stats[f"per_class.{label}.{name}"] = three[name][..., i]
    return stats


def _finite_or_none(value: float | np.ndarray) -> float | None:
    return float(value) if np.isfinite(value) else None


def agreement_report(human: Sequence[str], judged: Sequence[str], resamples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict[str, Any]:
    """Judge-vs-human agreement statistics with percentile-bootstrap CIs; JSON-serialisable."""
    if resamples < 0:
        raise ValueError(f"resamples must be >= 0, got {resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    confusion = Confusion.from_pairs(human, judged)
    table = confusion.array()
    n = confusion.n
    points = _statistics(table)

    draws: dict[str, np.ndarray] = {}
    if resamples > 0 and n > 0:
        rng = np.random.default_rng(seed)
        cells = rng.multinomial(n, table.ravel() / n, size=resamples).astype(np.float64)
        draws = _statistics(cells.reshape(resamples, *table.shape))
    alpha = (1 - level) / 2

    def estimate(key: str) -> dict[str, Any]:
        value = _finite_or_none(points[key])
        low = high = None
        if key in draws:
            finite = draws[key][np.isfinite(draws[key])]
            if finite.size:
                low, high = (float(q) for q in np.quantile(finite, [alpha, 1 - alpha]))
        return Estimate(value, low, high, n).to_dict()

    support = table.sum(axis=1)
    return {
        "n": n,
        "n_unparsed": int(table[:, -1].sum()),
        "confusion": confusion.to_dict(),
        "three_class": {name: estimate(f"three_class.{name}") for name in ("agreement", "kappa", "macro_f1")},
        "binary": {name: estimate(f"binary.{name}") for name in ("agreement", "kappa", "f1_accept")},
        "per_class": {
            label: {
                **{name: estimate(f"per_class.{label}.{name}") for name in ("precision", "recall", "f1")},
                "support": int(support[i]),
            }
            for i, label in enumerate(HUMAN_LABELS)
        },
        "bootstrap": {"resamples": resamples, "seed": seed, "level": level, "unit": "labelled answer"},
    }
