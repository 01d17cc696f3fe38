from __future__ import annotations

import numpy as np
import pytest

from cares.metrics.paired import PairedComparison


def test_estimate_is_the_mean_of_b_minus_a_with_its_interval() -> None:
    clusters = ["p1", "p1", "p2", "p3", "p3", "p4"]
    a = [1.0, 0.0, 1.0, 0.5, 1.0, 0.0]
    b = [0.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    out = PairedComparison.over(clusters, resamples=400, seed=3).estimate(clusters, a, b, names=("before", "after"))
    assert out["n"] == 6
    assert out["before"]["value"] == pytest.approx(3.5 / 6)
    assert out["after"]["value"] == pytest.approx(3 / 6)
    assert out["difference"]["value"] == pytest.approx(-0.5 / 6)
    low, high = out["difference"]["ci"]
    assert low <= out["difference"]["value"] <= high


def test_identical_runs_give_p_one_and_a_zero_difference() -> None:
    clusters = [f"c{i}" for i in range(50)]
    values = [float(i % 3 == 0) for i in range(50)]
    out = PairedComparison.over(clusters, resamples=200).estimate(clusters, values, values)
    assert out["difference"] == {"value": 0.0, "ci": [0.0, 0.0], "n": 50}
    assert out["p_value"] == 1.0


def test_a_large_consistent_effect_is_significant_and_a_balanced_one_is_not() -> None:
    clusters = [f"c{i}" for i in range(40)]
    paired = PairedComparison.over(clusters, resamples=999, seed=0)
    better = paired.estimate(clusters, [0.0] * 40, [1.0] * 40)
    # No resample reaches 0: p is below the resolution 2/999, which is stated beside it.
    assert better["p_value"] == 0.0 and better["p_floor"] == pytest.approx(2 / 999)
    assert better["clusters_differing"] == 40
    balanced = paired.estimate(clusters, [0.0] * 40, [1.0 if i % 2 else -1.0 for i in range(40)])
    assert balanced["p_value"] > 0.5


def test_swapping_a_and_b_flips_the_difference_and_its_interval_exactly() -> None:
    rng = np.random.default_rng(11)
    clusters = [f"c{i // 3}" for i in range(90)]
    a, b = list(rng.random(90)), list(rng.random(90))
    paired = PairedComparison.over(clusters, resamples=999, seed=5)
    forward, backward = paired.estimate(clusters, a, b), paired.estimate(clusters, b, a)
    assert forward["difference"]["value"] == -backward["difference"]["value"]
    low, high = backward["difference"]["ci"]
    assert forward["difference"]["ci"] == [-high, -low]
    assert forward["p_value"] == backward["p_value"] and forward["a"] == backward["b"]


def _excludes_zero(block: dict) -> bool:
    low, high = block["ci"]
    return low > 0 or high < 0


def test_five_clusters_all_worse_no_longer_show_an_interval_excluding_zero_beside_p_0062() -> None:
    # The soak test's principle 0: five of twenty base prompts got worse, the rest were unchanged. The
    # bootstrap interval excluded 0 while the sign-flip test could not go below 2/32 = 0.0625.
    clusters = [f"p{i}" for i in range(20) for _ in range(4)]
    a = [1.0] * 80
    b = [0.0 if i < 5 and j < 3 else 1.0 for i in range(20) for j in range(4)]
    out = PairedComparison.over(clusters, resamples=1000, seed=0).estimate(clusters, a, b)
    assert out["difference"]["value"] == pytest.approx(-15 / 80)
    assert _excludes_zero(out["difference"])
    assert out["p_value"] < 0.05


def test_an_interval_excludes_zero_exactly_when_p_is_below_005() -> None:
    rng = np.random.default_rng(2)
    seen = {True: 0, False: 0}
    for trial in range(300):
        groups = int(rng.integers(3, 25))
        clusters = [f"c{int(rng.integers(0, groups))}" for _ in range(int(rng.integers(5, 60)))]
        a = list(rng.integers(0, 2, len(clusters)).astype(float))
        b = [x if rng.random() < 0.6 else float(rng.integers(0, 2)) for x in a]
        shift = rng.random() < 0.5
        b = [1.0 if shift and rng.random() < 0.4 else x for x in b]
        out = PairedComparison.over(clusters, resamples=int(rng.choice([200, 999, 1000])), seed=trial).estimate(
            clusters, a, b)
        if out["difference"]["ci"][0] is None:
            continue
        excludes = _excludes_zero(out["difference"])
        seen[excludes] += 1
        assert excludes == (out["p_value"] < 0.05), out
    assert min(seen.values()) > 20  # both outcomes were exercised
