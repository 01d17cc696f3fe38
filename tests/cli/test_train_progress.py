from __future__ import annotations

import io
import threading

import pytest

from cares.cli.train_progress import TrainBar, TrainProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_ctrl_c_stops_at_the_next_fit_and_names_the_stage_and_fit() -> None:
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


@pytest.mark.parametrize("enabled", [True, False])
def test_a_terminal_sees_each_stage_unless_progress_is_off(monkeypatch: pytest.MonkeyPatch, enabled: bool) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bar = TrainBar("tfidf", TrainProgress(threading.Event()), enabled=enabled)
    bar.stage("featurising 10 prompts", 0)
    bar.stage("leave family out", 3)
    for _ in range(3):
        bar.fitted()
    bar.close()
    drawn = terminal.getvalue()
    if enabled:
        assert "tfidf: featurising 10 prompts" in drawn and "tfidf: leave family out" in drawn and "3/3" in drawn
    else:
        assert drawn == ""


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
