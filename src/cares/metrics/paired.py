"""Paired differences between two runs on the same items: the estimate, a cluster-bootstrap CI and a p-value.

Units (items, or item-variants) are paired by their stable id. Both runs' means, and the mean of
the per-unit differences (B - A), take their intervals from one shared ClusterBootstrap, so every
slice and metric of a comparison is read off the same resamples.

The p-value comes from a paired sign-flip permutation test at the cluster level. Under the null
hypothesis that the two runs are exchangeable, swapping A and B on every unit of a cluster leaves
the distribution of the data unchanged, which flips the sign of that cluster's summed difference.
The test statistic is the mean difference; the p-value is the share of sign assignments whose
|statistic| reaches the observed one. We use this rather than a bootstrap-inverted p-value because
it is exact (enumerated) when few clusters differ, has no large-sample assumption, respects the
within-cluster correlation the intervals also respect, and gives p = 1 when the runs agree
everywhere, where a bootstrap of identical values would be degenerate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from cares.metrics.bootstrap import ClusterBootstrap, Estimate

EXACT_LIMIT = 12  # up to 2**12 sign assignments are enumerated; beyond that they are drawn


class SignFlipTest:
    """Random cluster sign flips, drawn once per comparison and shared by every metric (like the bootstrap)."""

    def __init__(self, names: list[str], permutations: int, seed: int) -> None:
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.permutations = permutations
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.signs = (rng.integers(0, 2, size=(permutations, len(names))) * 2 - 1).astype(np.float64)

    def describe(self) -> dict[str, Any]:
        return {"test": "paired sign-flip permutation over clusters, two-sided", "permutations": self.permutations,
                "exact_up_to_clusters": EXACT_LIMIT, "seed": self.seed}

    def p_value(self, clusters: Sequence[str], differences: Sequence[float]) -> float | None:
        if len(differences) == 0:
            return None
        idx = np.fromiter((self.index[c] for c in clusters), dtype=np.int64, count=len(differences))
        sums = np.bincount(idx, weights=np.asarray(differences, dtype=np.float64), minlength=len(self.names))
        # Rounding keeps float noise (e.g. 0.1 + 0.2 - 0.3) from separating ties from the observed value.
        observed = round(abs(float(sums.sum())), 9)
        nonzero = np.flatnonzero(np.abs(sums) > 1e-12)
        if nonzero.size == 0 or observed == 0.0:
            return 1.0
        if nonzero.size <= EXACT_LIMIT:
            values = sums[nonzero]
            flips = np.array(list(product((1.0, -1.0), repeat=nonzero.size)))
            stats = np.round(np.abs(flips @ values), 9)
            return float(np.mean(stats >= observed))
        if self.permutations == 0:
            return None
        stats = np.round(np.abs(self.signs[:, nonzero] @ sums[nonzero]), 9)
        # The observed assignment counts as one of the draws, so p is never 0.
        return float((1 + np.sum(stats >= observed)) / (1 + self.permutations))


@dataclass(frozen=True)
class PairedComparison:
    """The shared resampling of one comparison: bootstrap weights and sign flips over the same clusters."""

    boot: ClusterBootstrap
    test: SignFlipTest

    @classmethod
    def over(cls, clusters: Sequence[str], resamples: int = 1000, seed: int = 0) -> PairedComparison:
        boot = ClusterBootstrap(list(clusters), resamples=resamples, seed=seed)
        return cls(boot, SignFlipTest(boot.names, resamples, seed + 1))

    def describe(self) -> dict[str, Any]:
        return {**self.boot.describe(), "p_value": self.test.describe()}

    def estimate(self, clusters: Sequence[str], a: Sequence[float], b: Sequence[float],
                 names: tuple[str, str] = ("a", "b")) -> dict[str, Any]:
        """Means of A and of B and of the per-unit difference B - A, each with n and a CI, and the p-value."""
        groups = list(clusters)
        differences = [y - x for x, y in zip(a, b)]
        return {
            "n": len(differences),
            names[0]: self.boot.mean(groups, list(a)).to_dict(),
            names[1]: self.boot.mean(groups, list(b)).to_dict(),
            "difference": self._difference(groups, differences).to_dict(),
            "p_value": self.test.p_value(groups, differences),
        }

    def _difference(self, groups: list[str], differences: list[float]) -> Estimate:
        """The mean difference and its interval, computed so that swapping A and B flips both exactly.

        Interpolated percentiles of -x are -(percentiles of x) only up to rounding; averaging the bounds
        read from both orientations makes the interval an exact odd function of the differences."""
        forward = self.boot.mean(groups, differences)
        backward = self.boot.mean(groups, [-d for d in differences])
        if forward.low is None or forward.high is None or backward.low is None or backward.high is None:
            return forward
        return Estimate(forward.value, (forward.low - backward.high) / 2, (forward.high - backward.low) / 2, forward.n)
