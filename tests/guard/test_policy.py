"""The guard's decision and the reminder's placement, independent of any one detector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cares.errors import ConfigError
from cares.guard.policy import REMINDER, Guard, GuardPolicy, PromptDetector, content_text, prompt_text, with_reminder


class ScoreTable:
    """A detector whose scores are given per prompt, so each branch of the policy is exercised exactly."""

    threshold = 0.5

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls: list[list[str]] = []

    def score(self, prompts: Sequence[str]) -> list[float]:
        self.calls.append(list(prompts))
        return [self.scores[p] for p in prompts]

    def identity(self) -> dict[str, Any]:
        return {"kind": "table", "sha256": "0" * 8}


DETECTOR = ScoreTable({"plain": 0.1, "edge": 0.5, "sneaky": 0.9})


def test_a_table_detector_satisfies_the_protocol() -> None:
    assert isinstance(DETECTOR, PromptDetector)


@pytest.mark.parametrize(
    "mode,threshold,expected",
    [
        ("flagged", None, {"plain": (False, False), "edge": (True, True), "sneaky": (True, True)}),
        ("flagged", 0.95, {"plain": (False, False), "edge": (False, False), "sneaky": (False, False)}),
        ("always", None, {"plain": (False, True), "edge": (True, True), "sneaky": (True, True)}),
        ("never", None, {"plain": (False, False), "edge": (True, False), "sneaky": (True, False)}),
    ],
)
def test_decisions_by_mode_and_threshold(
    mode: str, threshold: float | None, expected: dict[str, tuple[bool, bool]]
) -> None:
    guard = Guard(DETECTOR, GuardPolicy(mode=mode, threshold=threshold))  # type: ignore[arg-type]
    decisions = guard.decide_many(list(expected))
    assert {p: (d.flagged, d.applied) for p, d in zip(expected, decisions)} == expected
    assert [d.score for d in decisions] == [DETECTOR.scores[p] for p in expected]


def test_identity_names_everything_that_changes_answers() -> None:
    base = Guard(DETECTOR).identity()
    assert base["detector"] == DETECTOR.identity() and base["threshold"] == 0.5 and base["mode"] == "flagged"
    assert Guard(DETECTOR, GuardPolicy(threshold=0.7)).identity()["threshold"] == 0.7
    assert Guard(DETECTOR, GuardPolicy(mode="always")).identity() != base
    assert Guard(DETECTOR, GuardPolicy(reminder="Be careful.")).identity()["reminder_sha256"] != base["reminder_sha256"]


@pytest.mark.parametrize(
    "policy,message",
    [
        (dict(mode="sometimes"), "guard mode 'sometimes' is not one of flagged, always, never"),
        (dict(threshold=1.5), "guard threshold 1.5 is outside 0-1"),
        (dict(reminder="  "), "reminder text is empty"),
    ],
)
def test_bad_policies_are_config_errors(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GuardPolicy(**policy)


def test_the_reminder_becomes_the_system_message() -> None:
    messages = [{"role": "user", "content": "sneaky"}]
    sent, decision = Guard(DETECTOR).condition(messages)
    assert decision.applied and sent == [{"role": "system", "content": REMINDER}, *messages]
    assert messages == [{"role": "user", "content": "sneaky"}]  # the caller's list is not changed


def test_an_existing_system_prompt_is_kept_after_the_reminder_in_one_message() -> None:
    messages = [{"role": "system", "content": "You are a triage assistant."}, {"role": "user", "content": "sneaky"}]
    sent, _ = Guard(DETECTOR).condition(messages)
    assert len(sent) == 2 and sent[0]["role"] == "system"
    assert sent[0]["content"] == f"{REMINDER}\n\nYou are a triage assistant."
    assert sent[1] == messages[1]


def test_unflagged_messages_pass_through_unchanged() -> None:
    messages = [{"role": "user", "content": "plain"}]
    sent, decision = Guard(DETECTOR).condition(messages)
    assert sent is messages and not decision.applied


def test_the_last_user_turn_is_scored_text_parts_only() -> None:
    detector = ScoreTable({"sneaky": 0.9, "first turn": 0.0})
    messages = [
        {"role": "user", "content": "first turn"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "sneaky"},
        ]},
    ]
    assert prompt_text(messages) == "sneaky"
    Guard(detector).condition(messages)
    assert detector.calls == [["sneaky"]]
    assert prompt_text([{"role": "system", "content": "x"}]) == ""
    assert (
        content_text(None) == ""
        and content_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "a\nb"
    )


def test_a_list_system_prompt_is_merged_as_text() -> None:
    sent = with_reminder([{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}], "R")
    assert sent == [{"role": "system", "content": "R\n\nBe brief."}]


def test_decision_record() -> None:
    assert Guard(DETECTOR).decide("sneaky").to_dict() == {
        "detector_score": 0.9,
        "flagged": True,
        "reminder_applied": True,
    }
    assert Guard(DETECTOR).decide_many([]) == []
