"""Cluster bootstrap: resample whole clusters (base prompts, images) because their items are correlated.

One weight matrix (resamples x clusters) is drawn once per run and reused for every slice and
metric, so all intervals come from the same resamples and the whole thing stays vectorised.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # optional: without it BLAS keeps its own threads, and the numbers are the same
    ThreadpoolController = None

# Resamples drawn at once: their indices and counts (two arrays of 16 x clusters integers, 3.8 MB
# for 15,000 clusters) are all the draw holds beside the weight matrix.
_COUNT_ROWS = 16
# Clusters' rows gathered at once for a slice's means (256 x 1,000 resamples: 2 MB).
_GATHER_ROWS = 256


@cache
def _blas_controller() -> Any:
    return None if ThreadpoolController is None else ThreadpoolController()


def _one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS on one thread for a matrix-vector product: each resample's mean is one row's dot product,
    so the result is the same on any number of threads, but a multithreaded OpenBLAS spends several
    times the CPU of one thread on synchronising them (3.5 ms instead of 0.6 ms for 1,000 x 2,310)."""
    controller = _blas_controller()
    return nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


# How the resamples are drawn from a seed, named in results.json beside the seed: the same seed gives
# the same intervals only under the same draw.
DRAW = "uniform-indices"


def _drawn_counts(g: int, resamples: int, seed: int) -> np.ndarray:
    """Clusters x resamples: how often each of `g` clusters is drawn in each of `resamples` draws of g
    clusters with replacement.

    Each draw is g uniform indices, counted. That is the multinomial(g, 1/g) count vector exactly, at
    about a third of the CPU of numpy's `multinomial`, which spends a binomial draw on every cell
    (0.27 s against 0.7 s for 9,239 clusters x 1,000 resamples). A block of resamples is drawn at a
    time, so the indices are never held beside the whole float matrix: with 15,000 clusters that
    would be 120 MB more. Stored a cluster per row, so that a slice's clusters are a gather of whole
    rows.
    """
    rng = np.random.default_rng(seed)
    counts = np.empty((g, resamples), dtype=np.float64)
    for start in range(0, resamples, _COUNT_ROWS):
        k = min(resamples, start + _COUNT_ROWS) - start
        # Cluster c of resample r counted at c * k + r, so that the counts come out a cluster per row;
        # worked in place, so a block holds two arrays of k x g integers at most.
        cells = rng.integers(0, g, size=(k, g), dtype=np.int64)
        cells *= k
        cells += np.arange(k, dtype=np.int64)[:, None]
        counts[:, start:start + k] = np.bincount(cells.ravel(), minlength=g * k).reshape(g, k)
    return counts


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci": [self.low, self.high], "n": self.n}


class ClusterBootstrap:
    def __init__(self, clusters: list[str], resamples: int = 1000, seed: int = 0, level: float = 0.95) -> None:
        self.names = sorted(set(clusters))
        self.index = {name: i for i, name in enumerate(self.names)}
        self.resamples = resamples
        self.seed = seed
        self.level = level
        g = len(self.names)
        if resamples > 0 and g > 0:
            self._by_cluster = _drawn_counts(g, resamples, seed)
        else:
            self._by_cluster = np.zeros((g, 0))
        # resamples x clusters: each row one resample's count of every cluster (a view, not a copy).
        self.weights = self._by_cluster.T
        # Resampled cluster counts by the clusters they count: the slices of a report ask for one
        # subset's counts once per rate, and each product is a pass over the whole weight matrix.
        self._counts: dict[bytes, np.ndarray] = {}
        self._limited = False  # inside `one_blas_thread`

    def describe(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "seed": self.seed, "level": self.level, "clusters": len(self.names),
                "draw": DRAW}

    def resampled(self, clusters: list[str], values: list[float]) -> np.ndarray:
        """The mean of `values` in every resample that draws at least one of their clusters."""
        stats = self.resampled_columns(clusters, [values])
        return stats[:, 0] if stats.size else np.zeros(0)

    def resampled_columns(self, clusters: list[str], columns: Sequence[Sequence[float]]) -> np.ndarray:
        """Resamples x columns: the mean of each column of values (each one per item of `clusters`) in
        every resample that draws at least one of their clusters.

        The columns share one pass over the weight matrix: the matrix is read from memory once, not
        once per rate, which is most of a product's time."""
        n, m = len(clusters), len(columns)
        if n == 0 or m == 0 or self.weights.shape[0] == 0:
            return np.zeros((0, m))
        g = len(self.names)
        idx = np.fromiter((self.index[c] for c in clusters), dtype=np.int64, count=n)
        key = hashlib.blake2b(idx.tobytes(), digest_size=16).digest()
        known = self._counts.get(key)
        counts = np.bincount(idx, minlength=g).astype(np.float64)
        # Cluster sums of every column, and the cluster counts where this subset's are not known yet.
        sums = np.empty((g, m + (known is None)))
        for j, values in enumerate(columns):
            sums[:, j] = np.bincount(idx, weights=np.asarray(values, dtype=np.float64), minlength=g)
        if known is None:
            sums[:, m] = counts
        present = np.flatnonzero(counts)
        with nullcontext() if self._limited else _one_blas_thread():
            if 2 * len(present) < g:
                # A slice (one principle, one level) draws on a fraction of the clusters: reading only
                # their rows of the matrix costs that fraction of a pass over all of it. The rows are
                # gathered a block at a time, so the copy stays small beside the matrix.
                totals = np.zeros((self.resamples, sums.shape[1]))
                for start in range(0, len(present), _GATHER_ROWS):
                    block = present[start:start + _GATHER_ROWS]
                    totals += self._by_cluster[block].T @ sums[block]
            else:
                totals = self.weights @ sums
        if known is None:
            den = self._counts[key] = totals[:, m].copy()
        else:
            den = known
        drawn = den > 0
        return totals[drawn, :m] / den[drawn, None]

    def mean(self, clusters: list[str], values: list[float]) -> Estimate:
        """Mean of `values` (one per item) with a percentile CI from resampled clusters."""
        return self.means(clusters, [values])[0]

    def means(self, clusters: list[str], columns: Sequence[Sequence[float]]) -> list[Estimate]:
        """`mean` of each column of values over the same items, from one pass over the resamples."""
        n = len(clusters)
        if n == 0:
            return [Estimate(None, None, None, 0) for _ in columns]
        stats = self.resampled_columns(clusters, columns)
        alpha = (1 - self.level) / 2
        estimates = []
        for j, values in enumerate(columns):
            point = float(np.mean(values))
            if stats.shape[0] == 0:
                estimates.append(Estimate(point, None, None, n))
            else:
                low, high = percentile_pair(stats[:, j], alpha)
                estimates.append(Estimate(point, low, high, n))
        return estimates

    @contextmanager
    def one_blas_thread(self) -> Iterator[None]:
        """Every product inside the block on one BLAS thread, limited once: a report asks for
        dozens of means, and limiting around each one costs threadpoolctl about 0.3 ms."""
        if self._limited:
            yield
            return
        with _one_blas_thread():
            self._limited = True
            try:
                yield
            finally:
                self._limited = False


def percentile_pair(stats: np.ndarray, alpha: float) -> tuple[float, float]:
    """`np.quantile(stats, [alpha, 1 - alpha])` to the last bit (its default, linear interpolation,
    with its own formula on either side of the midpoint), from one partial sort: a fifth of the time."""
    n = stats.size
    virtual = [(n - 1) * q for q in (alpha, 1 - alpha)]
    below = [math.floor(v) for v in virtual]
    part = np.partition(stats, sorted({k for lo in below for k in (lo, min(lo + 1, n - 1))}))
    values = []
    for v, lo in zip(virtual, below):
        a, b, t = part[lo], part[min(lo + 1, n - 1)], v - lo
        step = b - a
        values.append(float(b - step * (1 - t) if t >= 0.5 else a + step * t))
    return values[0], values[1]
