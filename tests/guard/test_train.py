from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from cares.attacks.styles import STYLES, rewrite
from cares.errors import ConfigError
from cares.guard.build_default import is_cares_style, is_novel, leave_family_out
from cares.guard.data_sources import TrainingData, TrainingRow, load_training_data
from cares.guard.detector import load_detector
from cares.guard.evaluation import evaluate_scores, weighted_auroc
from cares.guard.train import (
    Featurised,
    ThresholdPolicy,
    TrainConfig,
    grouped_split,
    out_of_fold_scores,
    train_detector,
)
from tests.conftest import write_jsonl


def test_grouped_split_never_puts_a_base_prompt_on_both_sides() -> None:
    groups = [f"g{i // 4}" for i in range(400)]
    train, test = grouped_split(groups, 0.25, seed=0)
    assert sorted(train + test) == list(range(400))
    assert not {groups[i] for i in train} & {groups[i] for i in test}
    assert len({groups[i] for i in test}) == 25
    assert grouped_split(groups, 0.25, seed=0) == (train, test)
    assert grouped_split(groups, 0.25, seed=1)[1] != test
    with pytest.raises(ConfigError, match="at least 4"):
        grouped_split(["a", "b", "a"], 0.5, 0)


def test_max_f1_and_target_recall_policies() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    labels = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    # Cutting below 0.4 flags four of four positives and one negative: F1 8/9, the best.
    assert ThresholdPolicy("max-f1").choose(scores, labels) == pytest.approx((0.4 + 0.3) / 2)
    assert ThresholdPolicy("recall:0.5").choose(scores, labels) == pytest.approx((0.8 + 0.7) / 2)
    assert ThresholdPolicy("recall:0.75").choose(scores, labels) == pytest.approx((0.6 + 0.4) / 2)
    # Youden: cutting below 0.6 gives recall 3/4 with 1/4 false positives (J 0.5), below 0.4 J 0.75.
    assert ThresholdPolicy("youden").choose(scores, labels) == pytest.approx((0.4 + 0.3) / 2)
    shifted = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    assert ThresholdPolicy("youden").choose(scores, shifted) == pytest.approx((0.6 + 0.4) / 2)
    assert ThresholdPolicy("max-f1").choose(scores, shifted) == pytest.approx((0.6 + 0.4) / 2)
    assert ThresholdPolicy().spec == "direct-fpr:0.05"
    assert ThresholdPolicy("fixed:0.35").choose(scores, labels) == 0.35
    for bad in ("f1", "recall:1.5", "fixed:2", "recall:", "direct-fpr:1.5", "direct-fpr:"):
        with pytest.raises(ConfigError, match="threshold policy"):
            ThresholdPolicy(bad)


def test_direct_fpr_policy_takes_the_highest_recall_within_the_false_flag_cap() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    labels = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    # One direct prompt in four may be flagged: cutting below 0.4 flags the one at 0.7 and every rewrite.
    assert ThresholdPolicy("direct-fpr:0.25").choose(scores, labels) == pytest.approx((0.4 + 0.3) / 2)
    # None may be: the cut stays above the direct prompt at 0.7, and only two rewrites are caught.
    assert ThresholdPolicy("direct-fpr:0").choose(scores, labels) == pytest.approx((0.8 + 0.7) / 2)
    # A direct prompt scoring highest of all: nothing can be flagged without it, so nothing is.
    top_direct = ThresholdPolicy("direct-fpr:0").choose(scores, np.array([0, 1, 1, 1, 1, 0, 0, 0]))
    assert top_direct > 0.9 and not (scores >= top_direct).any()
    assert "at most 0.05 of direct prompts" in ThresholdPolicy().describe()


def test_weighted_auroc_matches_scikit_learn_with_ties() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    scores = np.round(rng.random(200), 1)  # many ties
    labels = (rng.random(200) < 0.4).astype(int)
    assert weighted_auroc(scores, labels, np.ones((1, 200)))[0] == pytest.approx(metrics.roc_auc_score(labels, scores))
    weights = rng.integers(0, 3, size=(1, 200)).astype(float)
    repeated = np.repeat(np.arange(200), weights[0].astype(int))
    assert weighted_auroc(scores, labels, weights)[0] == pytest.approx(
        metrics.roc_auc_score(labels[repeated], scores[repeated]))


def test_evaluation_counts_and_intervals() -> None:
    scores = [0.9, 0.8, 0.2, 0.7, 0.6, 0.1, 0.95, 0.3]
    labels = [1, 1, 0, 1, 1, 0, 1, 0]
    groups = ["a", "a", "a", "b", "b", "b", "c", "d"]
    result = evaluate_scores(scores, labels, groups, 0.65,
                             methods=["r", "r", "direct", "r", "r", "direct", "r", "direct"], resamples=200)
    assert result["n"] == 8 and result["n_groups"] == 4 and result["n_adversarial"] == 5
    assert result["auroc"]["value"] == 1.0
    assert result["recall"] == {"value": 0.8, "ci": result["recall"]["ci"], "n": 5}
    assert result["precision"]["value"] == 1.0 and result["false_positive_rate"]["value"] == 0.0
    low, high = result["recall"]["ci"]
    assert low <= 0.8 <= high
    assert result["flag_rate_by_method"]["direct"]["value"] == 0.0


def test_training_on_the_sample_measures_on_unseen_base_prompts(tmp_path: Path) -> None:
    data = load_training_data("sample")
    assert {row.label for row in data.rows if row.method == "direct"} == {0}
    assert {row.label for row in data.rows if row.method != "direct"} == {1}
    result = train_detector(data, TrainConfig(resamples=100, policy=ThresholdPolicy("recall:0.9")))
    split = result.metrics["split"]
    assert split["test_groups"] == 16 and split["train_groups"] == 48
    assert result.metrics["auroc"]["value"] > 0.8
    assert result.metrics["recall"]["value"] >= 0.75
    content = result.model.content
    assert content["threshold"]["policy"] == "recall:0.9" and "out-of-fold" in content["threshold"]["how"]
    assert content["training"]["data"]["source"] == "sample" and content["training"]["n_train"] == 192
    assert content["metrics"]["held_out"]["auroc"] == result.metrics["auroc"]
    path = result.model.write(tmp_path / "det.json")
    _, test_rows = grouped_split([r.group for r in data.rows], 0.25, 0)
    reloaded = load_detector(str(path)).score([data.rows[i].prompt for i in test_rows])
    np.testing.assert_allclose(reloaded, result.test_scores, atol=1e-5)


def test_training_from_a_file_and_from_a_local_hub_directory(tmp_path: Path, dataset_rows: list[dict]) -> None:
    pytest.importorskip("datasets")
    file_data = load_training_data(str(write_jsonl(tmp_path / "rows.jsonl", dataset_rows)))
    assert len(file_data.rows) == 48 and len({r.group for r in file_data.rows}) == 12
    assert file_data.provenance["source"] == "file" and len(file_data.provenance["sha256"]) == 64
    hub = tmp_path / "hub"
    hub.mkdir()
    write_jsonl(hub / "train.jsonl", dataset_rows[:40])
    write_jsonl(hub / "test.jsonl", dataset_rows[40:])
    hub_data = load_training_data(f"hf:{hub}", split="train")
    assert len(hub_data.rows) == 40 and hub_data.provenance["split"] == "train"
    assert hub_data.provenance["revision"].startswith("local-dir:")
    assert [r.prompt for r in hub_data.rows] == [r.prompt for r in file_data.rows[:40]]


def test_one_class_data_and_missing_scikit_learn_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [TrainingRow(f"question {i}", 0, f"g{i}", "direct", "direct") for i in range(20)]
    with pytest.raises(ConfigError, match="only one class"):
        train_detector(TrainingData(rows, {}), TrainConfig(resamples=0))
    data = load_training_data("sample")
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    with pytest.raises(ConfigError, match=r"cares\[guard-train\]"):
        train_detector(data, TrainConfig(resamples=0))


def test_train_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="featuriser"):
        TrainConfig(featuriser="bert")
    with pytest.raises(ConfigError, match="test-fraction"):
        TrainConfig(test_fraction=1.0)
    with pytest.raises(ConfigError, match="threshold-draws"):
        TrainConfig(threshold_draws=0)


def test_the_threshold_pools_the_out_of_fold_scores_of_every_draw() -> None:
    data = load_training_data("sample")
    policy = ThresholdPolicy("direct-fpr:0.05")
    train_rows, _ = grouped_split([r.group for r in data.rows], 0.25, 3)
    labels = np.asarray([r.label for r in data.rows])
    featurised = Featurised("tfidf", [r.prompt for r in data.rows], [r.group for r in data.rows],
                            TrainConfig().ngram_params)
    per_draw = [out_of_fold_scores(featurised, train_rows, labels, 3.0, 3 + draw) for draw in range(3)]
    assert not np.allclose(per_draw[0], per_draw[1])  # another draw deals the base prompts into other folds
    expected = policy.choose(np.concatenate(per_draw), np.tile(labels[train_rows], 3))
    assert expected != pytest.approx(policy.choose(per_draw[0], labels[train_rows]), abs=1e-6)
    pooled = train_detector(data, TrainConfig(policy=policy, seed=3, threshold_draws=3, resamples=0,
                                              leave_family_out=False), featurised)
    assert pooled.model.threshold == pytest.approx(expected, abs=1e-6)
    recorded = pooled.model.content["threshold"]
    assert recorded["draws"] == 3 and "3 draws pooled" in recorded["how"]
    single = train_detector(data, TrainConfig(policy=policy, seed=3, threshold_draws=1, resamples=0,
                                              leave_family_out=False), featurised)
    assert single.model.threshold == pytest.approx(policy.choose(per_draw[0], labels[train_rows]), abs=1e-6)
    assert "draws pooled" not in single.model.content["threshold"]["how"]


def test_leave_family_out_tests_only_held_out_families_on_unseen_base_prompts() -> None:
    data = load_training_data("sample")
    bases = {row.group: row for row in data.rows if row.method == "direct"}
    extra = [TrainingRow(rewrite(row.prompt, style, seed=7), 1, group, style, f"handwritten:{style}")
             for group, row in bases.items() for style in STYLES]
    rows = [TrainingRow(r.prompt, r.label, r.group, r.method, "sample") for r in data.rows] + extra
    mixed = TrainingData(rows, {"source": "test"}, has_families=True)
    config = TrainConfig(resamples=50)
    featurised = Featurised("tfidf", [r.prompt for r in rows], [r.group for r in rows], config.ngram_params)
    result = leave_family_out(mixed, featurised, config, is_novel)
    tested = set(result["flag_rate_by_family"])
    assert tested == {"direct", "handwritten"}  # the sample's rewrites are not tested, its direct prompts are
    assert result["flag_rate_by_family"]["direct"]["n"] == result["n_direct"] == 16
    assert result["n_adversarial"] == result["flag_rate_by_family"]["handwritten"]["n"] == 48
    assert result["auroc"]["value"] > 0.7
    reverse = leave_family_out(mixed, featurised, config, is_cares_style)
    assert set(reverse["flag_rate_by_family"]) == {"direct", "sample"} and reverse["n_adversarial"] == 48
