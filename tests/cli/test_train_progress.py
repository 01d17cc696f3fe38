from __future__ import annotations

import threading

import pytest

from cares.cli.train_progress import TrainBar, TrainProgress


def test_a_ctrl_c_stops_at_the_next_fit_and_names_the_stage_and_fit(capsys: pytest.CaptureFixture[str]) -> None:
    progress = TrainProgress(threading.Event())
    bar = TrainBar("minilm", progress, enabled=False)
    bar.stage("leave family out", 54)
    bar.fitted()
    bar.fitted()
    assert progress.stage == "training the minilm detector (leave family out, fit 2 of 54)"
    progress.interrupted.set()
    with pytest.raises(KeyboardInterrupt):
        bar.fitted()
    with pytest.raises(KeyboardInterrupt):
        bar.stage("threshold and model", 6)
    bar.close()
    assert capsys.readouterr().err == ""  # --no-progress draws nothing


def test_each_stage_gets_its_own_count() -> None:
    progress = TrainProgress(threading.Event())
    bar = TrainBar("tfidf", progress, enabled=False)
    bar.stage("featurising 10 prompts", 0)
    assert progress.stage == "training the tfidf detector (featurising 10 prompts)"
    bar.stage("threshold and model", 6)
    for _ in range(6):
        bar.fitted()
    bar.stage("leave family out", 3)
    bar.fitted()
    assert progress.stage == "training the tfidf detector (leave family out, fit 1 of 3)"
    bar.close()
