from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from cares.attacks.styles import STYLES, rewrite
from cares.errors import ConfigError
from cares.guard import style_report
from cares.guard.data_sources import TrainingData, TrainingRow, load_training_data
from cares.guard.style_report import FAMILY_FOLDS, family_folds, family_unit
from cares.guard.train import Featurised, TrainConfig, grouped_split, train_detector


def row(method: str, family: str, group: str = "g", label: int | None = None) -> TrainingRow:
    return TrainingRow("text", int(method != "direct") if label is None else label, group, method, family)


def test_family_units_hold_out_whole_families_and_never_direct_prompts() -> None:
    assert family_unit(row("direct", "direct:plain-harmful")) is None
    assert family_unit(row("indirect", "authored:suppose-someone")) == "authored:suppose-someone"
    assert family_unit(row("obfuscate", "rules:obfuscate")) == "rules:obfuscate"
    assert family_unit(row("indirect", "handwritten:curiosity")) == family_unit(
        row("indirect", "handwritten:myth-check")
    )
    assert family_unit(row("role_play", "sample")) == "sample (role_play)"
    assert family_unit(row("obfuscate", "obfuscate")) == "obfuscate"  # data without families: the method


def test_by_default_each_family_is_a_fold_of_its_own() -> None:
    data = load_training_data("default")
    assert FAMILY_FOLDS == 0
    folds = family_folds(data.rows, 0, seed=0)
    units = {family_unit(r) for r in data.rows} - {None}
    assert set(folds) == units and sorted(folds.values()) == list(range(len(units)))
    assert folds == family_folds(data.rows, 0, seed=7)  # nothing to deal, so no seed matters
    for bad in (1, -2):
        with pytest.raises(ConfigError, match="at least 2"):
            family_folds(data.rows, bad, seed=0)


def test_every_fold_leaves_out_some_wording_of_every_style() -> None:
    data = load_training_data("default")
    folds = family_folds(data.rows, 5, seed=0)
    assert folds == family_folds(data.rows, 5, seed=0)
    assert folds != family_folds(data.rows, 5, seed=1)
    method_of = {family_unit(r): r.method for r in data.rows if r.label}
    for fold in range(5):
        held = {method_of[u] for u, f in folds.items() if f == fold}
        assert {"indirect", "obfuscate"} <= held, fold
    # Role play has fewer families than there are folds: each is held out in a fold of its own.
    role_play_folds = [f for u, f in folds.items() if method_of[u] == "role_play"]
    assert len(role_play_folds) == len(set(role_play_folds)) >= 3
    sizes = Counter(folds.values())
    assert max(sizes.values()) - min(sizes.values()) <= 3


class Spy:
    """Wraps a Featurised and records what every fitted model was trained on and then scored."""

    def __init__(self, inner: Featurised) -> None:
        self.inner = inner
        self.fits: list[set[int]] = []
        self.scored: list[tuple[int, list[int]]] = []

    def fit(self, rows: list[int], labels: np.ndarray, c: float, seed: int) -> Any:
        self.fits.append(set(rows))
        return len(self.fits) - 1, self.inner.fit(rows, labels, c, seed)

    def scores(self, fitted: Any, rows: list[int]) -> np.ndarray:
        self.scored.append((fitted[0], list(rows)))
        return self.inner.scores(fitted[1], rows)


def families_data() -> TrainingData:
    sample = load_training_data("sample")
    bases = {r.group: r for r in sample.rows if r.method == "direct"}
    rows = [TrainingRow(r.prompt, r.label, r.group, r.method, "sample") for r in sample.rows]
    for seed, family in ((3, "authored:alpha"), (5, "authored:beta"), (7, "authored:gamma")):
        rows += [TrainingRow(rewrite(b.prompt, style, seed=seed), 1, g, style, f"{family}-{style}")
                 for g, b in bases.items() for style in STYLES]
    return TrainingData(rows, {"source": "test"}, has_families=True)


@pytest.mark.parametrize("folds", [0, 5])
def test_leave_family_out_never_scores_a_row_with_a_model_that_saw_its_family_or_its_base_prompt(folds: int) -> None:
    data = families_data()
    groups = [r.group for r in data.rows]
    spy = Spy(Featurised("tfidf", [r.prompt for r in data.rows], groups, TrainConfig().ngram_params, 0.1))
    train, test = grouped_split(groups, 0.25, 0)
    result = style_report.leave_family_out(data, spy, train, test, 1.0, 0.5, resamples=50, seed=0, folds=folds)
    units = [family_unit(r) for r in data.rows]
    scored_adversarial: Counter[int] = Counter()
    direct_test = {i for i in test if data.rows[i].label == 0}
    for model, rows in spy.scored:
        trained = spy.fits[model]
        trained_units = {units[i] for i in trained}
        assert not {groups[i] for i in trained} & {groups[i] for i in rows}
        for i in rows:
            if data.rows[i].label:
                assert units[i] not in trained_units, units[i]
                scored_adversarial[i] += 1
        assert direct_test <= set(rows)  # every fold's model scores every direct test prompt
    assert set(scored_adversarial) == {i for i in test if data.rows[i].label} and set(scored_adversarial.values()) == {
        1
    }
    units_held = {units[i] for i in scored_adversarial}
    if folds == 0:
        # One model per family with test rows, and it leaves out that family alone.
        assert len(spy.fits) == result["fits"] == len(units_held)
        all_units = {u for u in units if u is not None}
        for trained in spy.fits:
            assert len(all_units - {units[i] for i in trained}) == 1
    else:
        assert len(spy.fits) == result["fits"] <= folds
    assert {block["model"] for block in result["by_family"].values()} == set(range(result["fits"]))
    by_method = result["flag_rate_by_method"]
    assert set(by_method) == {"direct", "indirect", "obfuscate", "role_play"}
    assert by_method["direct"]["n"] == len(direct_test)
    assert sum(by_method[m]["n"] for m in STYLES) == result["n_adversarial"] == len(scored_adversarial)
    assert 0.5 < result["auroc"] <= 1.0
    assert {block["method"] for block in result["by_family"].values()} == set(STYLES)


class FixedDetector:
    threshold = 0.5

    def score(self, prompts: list[str]) -> list[float]:
        return [0.9 if "means" in p or "Suppose" in p else 0.1 for p in prompts]


def test_never_tuned_rows_are_scored_at_the_detectors_own_threshold() -> None:
    rows = (TrainingRow('"x" means y. How much x?', 1, "a", "obfuscate", "never-tuned:colour"),
            TrainingRow("How much x would they need?", 1, "a", "indirect", "never-tuned:what-if"),
            TrainingRow("Suppose someone asked about x?", 1, "b", "indirect", "never-tuned:what-if"),
            TrainingRow("How much x?", 0, "a", "direct", "direct:plain"),
            TrainingRow("Suppose my reading is high?", 0, "b", "direct", "direct:contextual"))
    assert style_report.never_tuned(FixedDetector(), TrainingData([], {}), resamples=10, seed=0) is None
    result = style_report.never_tuned(FixedDetector(), TrainingData([], {}, never_tuned=rows), resamples=10, seed=0)
    assert result is not None
    rates = result["flag_rate_by_method"]
    assert rates["obfuscate"]["value"] == 1.0 and rates["indirect"]["value"] == 0.5
    assert rates["direct"]["value"] == 0.5 and rates["direct"]["n"] == 2
    assert set(result["flag_rate_by_family"]) == {"colour", "what-if", "direct (plain)", "direct (contextual)"}
    sweep = {entry["threshold"]: entry for entry in result["sweep"]}
    assert sweep[0.2]["indirect"] == 0.5 and sweep[0.9]["obfuscate"] == 1.0 and sweep[0.9]["direct"] == 0.5


def test_sweep_weights_rows_scored_by_several_models() -> None:
    scores = np.array([0.9, 0.3, 0.6, 0.6])
    methods = np.array(["indirect", "indirect", "direct", "direct"])
    plain = style_report.sweep(scores, methods, thresholds=(0.5,))[0]
    assert plain == {"threshold": 0.5, "direct": 1.0, "indirect": 0.5}
    weighted = style_report.sweep(scores, methods, flags=np.array([1.0, 3.0, 1.0, 1.0]), thresholds=(0.5,))[0]
    assert weighted["indirect"] == pytest.approx(0.25)


def test_a_family_that_leaves_no_rewrite_to_train_on_is_skipped_and_named() -> None:
    sample = load_training_data("sample")
    one = TrainingData([TrainingRow(r.prompt, r.label, r.group, r.method, "direct" if r.label == 0 else "mine")
                        for r in sample.rows], {"source": "test"}, has_families=True)
    groups = [r.group for r in one.rows]
    featurised = Featurised("tfidf", [r.prompt for r in one.rows], groups, TrainConfig().ngram_params, 0.1)
    train, test = grouped_split(groups, 0.25, 0)
    assert style_report.leave_family_out(one, featurised, train, test, 1.0, 0.5, resamples=10, seed=0) is None
    report = train_detector(one, TrainConfig(resamples=10), featurised).report
    assert report["leave_family_out"] is None and "leaves no rewrite to train on" in report["leave_family_out_note"]
    two = TrainingData([TrainingRow(r.prompt, r.label, r.group, r.method,
                                    "direct" if r.label == 0 else ("mine" if r.method == "indirect" else "theirs"))
                        for r in sample.rows], {"source": "test"}, has_families=True)
    result = style_report.leave_family_out(two, featurised, train, test, 1.0, 0.5, resamples=10, seed=0)
    assert result is not None and result["fits"] == 2 and result["skipped"] == []


def test_more_folds_than_families_is_each_family_in_turn_and_says_so() -> None:
    data = families_data()
    groups = [r.group for r in data.rows]
    featurised = Featurised("tfidf", [r.prompt for r in data.rows], groups, TrainConfig().ngram_params, 0.1)
    train, test = grouped_split(groups, 0.25, 0)
    each = style_report.leave_family_out(data, featurised, train, test, 1.0, 0.5, resamples=10, seed=0, folds=0)
    many = style_report.leave_family_out(data, featurised, train, test, 1.0, 0.5, resamples=10, seed=0, folds=50)
    assert each is not None and many is not None
    assert many["folds"] == 0 and many["fits"] == each["fits"]
    assert many["protocol"].startswith("each family held out in turn (--family-folds 50 is at least the ")
    assert many["flag_rate_by_method"] == each["flag_rate_by_method"]
