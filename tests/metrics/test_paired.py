from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from cares.metrics import paired as paired_module
from cares.metrics.paired import PairedComparison, SignFlipTest


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


def test_p_value_is_enumerated_exactly_when_few_clusters_differ() -> None:
    # Three clusters each improve by one: of the 8 sign assignments, only all-plus and all-minus reach |3|.
    test = SignFlipTest(["a", "b", "c", "d"], permutations=100, seed=0)
    assert test.p_value(["a", "b", "c", "d"], [1.0, 1.0, 1.0, 0.0]) == pytest.approx(2 / 8)
    # Cluster sums 2 and 1 (two units in "a"): |±2 ± 1| >= 3 only for equal signs.
    assert test.p_value(["a", "a", "b"], [1.0, 1.0, 1.0]) == pytest.approx(2 / 4)


def test_identical_runs_give_p_one_and_a_zero_difference() -> None:
    clusters = [f"c{i}" for i in range(50)]
    values = [float(i % 3 == 0) for i in range(50)]
    out = PairedComparison.over(clusters, resamples=200).estimate(clusters, values, values)
    assert out["difference"] == {"value": 0.0, "ci": [0.0, 0.0], "n": 50}
    assert out["p_value"] == 1.0


def test_drawn_sign_flips_agree_with_exact_enumeration(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    sums = rng.normal(0.3, 1.0, size=11)
    names = [f"c{i}" for i in range(11)]
    flips = np.array(list(product((1.0, -1.0), repeat=11)))
    exact = float(np.mean(np.abs(flips @ sums) >= abs(sums.sum()) - 1e-9))
    enumerated = SignFlipTest(names, 0, 0).p_value(names, list(sums))
    assert enumerated == pytest.approx(exact)
    monkeypatch.setattr(paired_module, "EXACT_LIMIT", 0)
    drawn = SignFlipTest(names, 20000, 1).p_value(names, list(sums))
    assert drawn == pytest.approx(exact, abs=0.015)


def test_a_large_consistent_effect_is_significant_and_a_balanced_one_is_not() -> None:
    clusters = [f"c{i}" for i in range(40)]
    test = SignFlipTest(clusters, 999, 0)
    assert test.p_value(clusters, [1.0] * 40) == pytest.approx(1 / 1000)
    assert test.p_value(clusters, [1.0 if i % 2 else -1.0 for i in range(40)]) == 1.0


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
