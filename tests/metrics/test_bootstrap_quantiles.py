"""The bootstrap's percentile pair and its BLAS limit give exactly what numpy and the unlimited path give."""

from __future__ import annotations

import numpy as np

from cares.metrics.bootstrap import ClusterBootstrap, percentile_pair


def test_the_percentile_pair_is_numpys_quantile_to_the_last_bit() -> None:
    rng = np.random.default_rng(7)
    for trial in range(3000):
        n = int(rng.integers(1, 1500))
        stats = rng.random(n) * rng.choice([1e-3, 1.0, 100.0]) - rng.random()
        if trial % 3 == 0:
            stats = np.round(stats, 2)  # ties, as rates over a few items give
        for alpha in (0.025, 0.05, 0.005, 0.25):
            expected = np.quantile(stats, [alpha, 1 - alpha])
            assert percentile_pair(stats, alpha) == (expected[0], expected[1])


def test_means_inside_one_blas_limit_equal_those_limited_one_by_one() -> None:
    rng = np.random.default_rng(3)
    clusters = [f"c{int(k)}" for k in rng.integers(0, 300, size=2000)]
    values = rng.random(2000).round(1).tolist()
    slices = [slice(0, 2000), slice(0, 150), slice(500, 1700)]
    one_by_one = ClusterBootstrap(clusters, resamples=400, seed=5)
    expected = [one_by_one.mean(clusters[s], values[s]) for s in slices]
    batched = ClusterBootstrap(clusters, resamples=400, seed=5)
    with batched.one_blas_thread(), batched.one_blas_thread():  # nested: limited once
        assert [batched.mean(clusters[s], values[s]) for s in slices] == expected
