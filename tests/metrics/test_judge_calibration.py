from __future__ import annotations

import numpy as np
import pytest

from cares.metrics.agreement import Confusion
from cares.metrics.bootstrap import ClusterBootstrap
from cares.metrics.judge_calibration import corrected_safety, simplex_least_squares
from cares.metrics.safety import SCORE_TABLE, JudgedItem, safety_metrics
from cares.types import Label

CLASSES = (Label.ACCEPT, Label.CAUTION, Label.REFUSE)
SCORES = np.array([[SCORE_TABLE[level][label] for label in CLASSES] for level in range(4)])
# P(judge j | human t): the judge over-calls caution and misses some refusals.
JUDGE = np.array([[0.85, 0.10, 0.05], [0.15, 0.70, 0.15], [0.03, 0.12, 0.85]])
# P(true label | level): level 0 is mostly answered, harmful levels mostly refused or hedged.
TRUE_BY_LEVEL = np.array([[0.80, 0.15, 0.05], [0.30, 0.40, 0.30], [0.15, 0.35, 0.50], [0.05, 0.25, 0.70]])


def _apply_judge(rng: np.random.Generator, true: np.ndarray, judge: np.ndarray) -> np.ndarray:
    # Inverse-CDF draw per item from its true label's row, vectorised.
    cdf = np.cumsum(judge, axis=1)[true]
    return np.minimum((rng.random(true.size)[:, None] > cdf).sum(axis=1), 2)


def _validation(rng: np.random.Generator, size: int, judge: np.ndarray = JUDGE) -> Confusion:
    true = rng.integers(0, 3, size=size)
    judged = _apply_judge(rng, true, judge)
    table = np.zeros((3, 4), dtype=np.int64)
    np.add.at(table, (true, judged), 1)
    return Confusion(tuple(tuple(int(v) for v in row) for row in table))


def _run(rng: np.random.Generator, clusters: int, per_cluster: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A simulated run: one harmful level per base prompt, true labels drawn per item given the level."""
    levels = np.repeat(rng.integers(0, 4, size=clusters), per_cluster)
    cdf = np.cumsum(TRUE_BY_LEVEL, axis=1)[levels]
    true = np.minimum((rng.random(levels.size)[:, None] > cdf).sum(axis=1), 2)
    groups = [f"g{i}" for i in range(clusters) for _ in range(per_cluster)]
    return levels, true, groups


def _labels(codes: np.ndarray) -> list[Label]:
    return [CLASSES[c] for c in codes]


def test_perfect_judge_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    levels, true, groups = _run(rng, 60, 3)
    labels = _labels(true)
    identity = Confusion(((50, 0, 0, 2), (0, 40, 0, 0), (0, 0, 70, 1)))
    boot = ClusterBootstrap(groups, 300, seed=2)
    result = corrected_safety(levels.tolist(), labels, groups, identity, boot)
    assert result["corrected"]["value"] == pytest.approx(result["judged"]["value"], abs=1e-12)
    # The validation resamples of an identity confusion stay the identity, so the intervals agree too.
    assert result["corrected"]["ci"] == pytest.approx(result["judged"]["ci"], abs=1e-12)
    assert result["validation_n"] == 160
    # "judged" is exactly safety.py's Safety Score, interval included.
    items = [JudgedItem(str(i), g, int(lv), "direct", 1, lab, None) for i, (g, lv, lab) in
             enumerate(zip(groups, levels, labels))]
    assert safety_metrics(items, boot)["overall"]["safety_score"] == result["judged"]
    rates = result["corrected_rates"]
    assert sum(rates.values()) == pytest.approx(1.0)
    assert rates["accept"] == pytest.approx(float(np.mean(true == 0)), abs=1e-12)


def test_recovers_true_score_on_a_huge_run() -> None:
    rng = np.random.default_rng(7)
    levels, true, groups = _run(rng, 2000, 100)
    judged = _apply_judge(rng, true, JUDGE)
    truth = float(SCORES[levels, true].mean())
    validation = Confusion(tuple(tuple(int(round(v * 100_000)) for v in row) + (0,) for row in JUDGE))
    result = corrected_safety(levels.tolist(), [str(x) for x in _labels(judged)], groups, validation,
                              ClusterBootstrap(groups, 20, seed=0))
    assert abs(result["corrected"]["value"] - truth) < 0.01
    # The bias being corrected is real: the uncorrected score misses by far more.
    assert abs(result["judged"]["value"] - truth) > 0.03
    assert result["corrected"]["ci"][0] <= result["corrected"]["value"] <= result["corrected"]["ci"][1]


def test_calibration_coverage() -> None:
    """Acceptance: the corrected 95% CI covers the run's true Safety Score in at least 95% of runs."""
    rng = np.random.default_rng(2024)
    runs, covered, judged_covered = 200, 0, 0
    for run in range(runs):
        levels, true, groups = _run(rng, 150, 4)
        judged = _apply_judge(rng, true, JUDGE)
        truth = float(SCORES[levels, true].mean())
        boot = ClusterBootstrap(groups, 500, seed=run)
        result = corrected_safety(levels.tolist(), _labels(judged), groups, _validation(rng, 400), boot,
                                  val_seed=10_000 + run)
        low, high = result["corrected"]["ci"]
        covered += low <= truth <= high
        j_low, j_high = result["judged"]["ci"]
        judged_covered += j_low <= truth <= j_high
    coverage, judged_coverage = covered / runs, judged_covered / runs
    print(f"calibration coverage: {coverage:.2f} ({covered}/{runs}); judged-score coverage: {judged_coverage:.2f}")
    assert coverage >= 0.95
    assert judged_coverage < coverage


def test_simplex_solution_is_exact_inside_and_feasible_outside() -> None:
    m = JUDGE[None]
    p_true = np.array([0.2, 0.3, 0.5])
    inside = simplex_least_squares(m, (JUDGE.T @ p_true)[None, None])
    assert inside[0, 0] == pytest.approx(p_true, abs=1e-10)
    # Observed shares no true mix could produce: the solution stays on the simplex.
    outside = simplex_least_squares(m, np.array([[[0.0, 0.0, 1.0]]]))[0, 0]
    assert np.all(outside >= 0) and outside.sum() == pytest.approx(1.0)
    assert outside == pytest.approx([0.0, 0.0, 1.0], abs=1e-12)
    # Compare against a fine grid search over the simplex.
    q = np.array([0.5, 0.5, 0.0])
    best = simplex_least_squares(m, q[None, None])[0, 0]
    grid = np.array([(a, b, 1 - a - b) for a in np.linspace(0, 1, 201) for b in np.linspace(0, 1, 201) if a + b <= 1])
    grid_best = ((grid @ JUDGE - q) ** 2).sum(axis=1).min()
    assert ((best @ JUDGE - q) ** 2).sum() <= grid_best + 1e-12


def test_bad_inputs_raise() -> None:
    boot = ClusterBootstrap(["g"], 10)
    good = Confusion(((5, 1, 0, 0), (1, 5, 0, 0), (0, 1, 5, 0)))
    with pytest.raises(ValueError, match="caution"):
        corrected_safety([1], ["refuse"], ["g"], Confusion(((5, 1, 0, 0), (0, 0, 0, 3), (0, 1, 5, 0))), boot)
    with pytest.raises(ValueError, match="unparsed"):
        corrected_safety([1], [Label.UNPARSED], ["g"], good, boot)
    with pytest.raises(ValueError, match="level"):
        corrected_safety([4], ["refuse"], ["g"], good, boot)
    with pytest.raises(ValueError, match="length"):
        corrected_safety([1, 2], ["refuse"], ["g"], good, boot)
    with pytest.raises(ValueError, match="cluster"):
        corrected_safety([1], ["refuse"], ["h"], good, boot)
