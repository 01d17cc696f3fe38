"""Paired differences between two runs on the same items: the estimate, a cluster-bootstrap CI and a p-value.

Units (items, or item-variants) are paired by their stable id. Both runs' means, and the mean of
the per-unit differences (B - A), take their intervals from one shared ClusterBootstrap, so every
slice and metric of a comparison is read off the same resamples.

The interval of the difference and its p-value are read off the same bootstrap distribution, so
they cannot disagree: the interval runs from the k-th smallest to the k-th largest resampled mean
difference (k = ceil(alpha * B), alpha = 2.5%), and p = 2 * min(share <= 0, share >= 0), capped
at 1. The interval excludes 0 exactly when p < 5%. An earlier version took p from a cluster
sign-flip permutation test while the interval came from the bootstrap; with five clusters that
differ the test cannot go below 2/32 = 0.0625, and `cares compare` printed an interval excluding 0
beside p 0.062. With few differing clusters both figures are optimistic, so the number of
clusters that differ is reported beside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cares.metrics.bootstrap import ClusterBootstrap, Estimate

P_VALUE = {"test": "two-sided, from the paired cluster-bootstrap distribution of the mean difference "
                   "(2 x the smaller share of resamples at or beyond 0)",
           "agrees_with_interval": "the 95% interval excludes 0 exactly when p < 0.05"}


@dataclass(frozen=True)
class PairedComparison:
    """The shared resampling of one comparison: one set of bootstrap weights over its clusters."""

    boot: ClusterBootstrap

    @classmethod
    def over(cls, clusters: Sequence[str], resamples: int = 1000, seed: int = 0) -> PairedComparison:
        return cls(ClusterBootstrap(list(clusters), resamples=resamples, seed=seed))

    def describe(self) -> dict[str, Any]:
        return {**self.boot.describe(), "p_value": P_VALUE}

    def estimate(self, clusters: Sequence[str], a: Sequence[float], b: Sequence[float],
                 names: tuple[str, str] = ("a", "b")) -> dict[str, Any]:
        """Means of A and of B and of the per-unit difference B - A, each with n and a CI, and the p-value."""
        groups = list(clusters)
        differences = [y - x for x, y in zip(a, b)]
        difference, p_value, floor = self._difference(groups, differences)
        return {
            "n": len(differences),
            names[0]: self.boot.mean(groups, list(a)).to_dict(),
            names[1]: self.boot.mean(groups, list(b)).to_dict(),
            "difference": difference.to_dict(),
            "p_value": p_value,
            # p = 0 means no resample reached 0: the true p is below 2 / resamples, not 0.
            "p_floor": floor,
            "clusters_differing": _clusters_differing(groups, differences),
        }

    def _difference(self, groups: list[str], differences: list[float]) -> tuple[Estimate, float | None, float | None]:
        """The mean difference, its interval and its p-value, all from one bootstrap distribution.

        Order statistics rather than interpolated quantiles keep the two in step (and make swapping A
        and B flip the interval exactly); rounding keeps float noise from separating ties from 0."""
        n = len(differences)
        if n == 0:
            return Estimate(None, None, None, 0), None, None
        point = float(np.mean(differences))
        stats = np.sort(np.round(self.boot.resampled(groups, differences), 12))
        size = int(stats.size)
        if size == 0:
            return Estimate(point, None, None, n), None, None
        alpha = (1 - self.boot.level) / 2
        k = min(size, max(1, math.ceil(alpha * size - 1e-9)))
        at_or_below, at_or_above = int(np.sum(stats <= 0)), int(np.sum(stats >= 0))
        p_value = min(1.0, 2 * min(at_or_below, at_or_above) / size)
        return Estimate(point, float(stats[k - 1]), float(stats[size - k]), n), p_value, 2 / size


def _clusters_differing(groups: list[str], differences: list[float]) -> int:
    sums: dict[str, float] = {}
    for group, d in zip(groups, differences):
        sums[group] = sums.get(group, 0.0) + d
    return sum(1 for total in sums.values() if abs(total) > 1e-12)
