"""The cluster bootstrap's draws are with-replacement draws of the clusters, and means that share
their items share one pass over them without changing a value."""

from __future__ import annotations

import numpy as np
import pytest

from cares.metrics.bootstrap import ClusterBootstrap


def test_each_resample_draws_as_many_clusters_as_there_are() -> None:
    boot = ClusterBootstrap([f"c{i}" for i in range(500)], resamples=300, seed=1)
    assert boot.weights.shape == (300, 500)
    assert (boot.weights.sum(axis=1) == 500).all()
    assert (boot.weights >= 0).all() and (boot.weights == np.round(boot.weights)).all()


def test_the_counts_follow_the_multinomial_of_a_uniform_draw() -> None:
    # Multinomial(g, 1/g): each count has mean 1 and variance 1 - 1/g, two counts covariance -1/g, and
    # P(count = 0) tends to 1/e. 2,000 x 200 counts pin each within a few standard errors.
    g = 200
    counts = ClusterBootstrap([f"c{i}" for i in range(g)], resamples=2000, seed=11).weights
    assert counts.mean() == pytest.approx(1.0)  # exact: every row sums to g
    assert counts.var() == pytest.approx(1 - 1 / g, abs=0.01)
    assert np.mean(counts == 0) == pytest.approx((1 - 1 / g) ** g, abs=0.005)
    pair = np.cov(counts[:, 0], counts[:, 1])[0, 1]
    assert abs(pair + 1 / g) < 0.07
    # No cluster drawn more often than its share: every cluster's mean count is near 1.
    assert np.abs(counts.mean(axis=0) - 1).max() < 0.15


def test_the_same_seed_gives_the_same_draws_and_another_seed_others() -> None:
    clusters = [f"c{i}" for i in range(300)]
    a = ClusterBootstrap(clusters, resamples=100, seed=4).weights
    assert np.array_equal(a, ClusterBootstrap(list(reversed(clusters)), resamples=100, seed=4).weights)
    assert not np.array_equal(a, ClusterBootstrap(clusters, resamples=100, seed=5).weights)
    assert ClusterBootstrap(clusters, resamples=100, seed=4).describe()["draw"] == "uniform-indices"


@pytest.mark.parametrize("part", [slice(0, 3000), slice(0, 200), slice(1000, 2900)])
def test_means_sharing_one_pass_equal_the_means_one_at_a_time(part: slice) -> None:
    # The bootstrap is of every cluster; a short part reads only its clusters' rows (the slice path).
    rng = np.random.default_rng(2)
    every = [f"c{int(k)}" for k in rng.integers(0, 800, size=3000)]
    clusters = every[part]
    columns = [rng.random(3000).round(1).tolist()[part], rng.integers(0, 2, 3000).astype(float).tolist()[part]]
    shared = ClusterBootstrap(every, resamples=500, seed=8).means(clusters, columns)
    alone = ClusterBootstrap(every, resamples=500, seed=8)
    for estimate, values in zip(shared, columns):
        single = alone.mean(clusters, values)
        assert estimate.n == single.n == len(values)
        assert estimate.value == single.value
        assert estimate.low == pytest.approx(single.low, abs=1e-12)
        assert estimate.high == pytest.approx(single.high, abs=1e-12)


def test_the_interval_of_a_mean_covers_what_its_clusters_were_drawn_around() -> None:
    # 400 clusters of 3 items around a true rate of 0.3: the 95% interval of a fair bootstrap holds it
    # in most of 60 independent data sets (binomial: at least 50 of 60 is far from chance for a broken draw).
    hits = 0
    for trial in range(60):
        rng = np.random.default_rng(100 + trial)
        clusters = [f"c{i // 3}" for i in range(1200)]
        cluster_p = np.clip(0.3 + rng.normal(0, 0.1, 400), 0, 1)
        values = (rng.random(1200) < np.repeat(cluster_p, 3)).astype(float).tolist()
        est = ClusterBootstrap(clusters, resamples=400, seed=trial).mean(clusters, values)
        assert est.low is not None and est.high is not None
        hits += est.low <= 0.3 <= est.high
    assert hits >= 50


def test_no_items_give_no_estimate() -> None:
    boot = ClusterBootstrap(["a", "b"], resamples=50, seed=0)
    assert [e.n for e in boot.means([], [[], []])] == [0, 0]
    assert boot.mean([], []).value is None
