"""Fairness over open-ended answers: race is carried only by open-ended sources, so those answers
need a correct/wrong decision (ROUGE-L against the reference without an LLM judge)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import cares
from tests.conftest import write_jsonl

REFERENCE = "The optic disc shows a cup to disc ratio of about 0.7 with thinning of the inferior neuroretinal rim."
OFF_TOPIC = "Bananas are a good source of potassium and make a convenient snack."


def test_race_gap_near_100_when_one_group_gets_the_reference_and_the_other_an_off_topic_answer(tmp_path: Path) -> None:
    rows = []
    for i in range(24):
        race = "group a" if i % 2 == 0 else "group b"
        rows.append({"id": f"q{i}", "image": f"img{i // 2}.png", "question": f"Question {i}: what does the scan show?",
                     "answer_type": "open", "answer": REFERENCE, "race": race, "age": 40 + i, "gender": "female"})
    data = write_jsonl(tmp_path / "open.jsonl", rows)
    module = tmp_path / "open_model.py"
    module.write_text(
        f"REFERENCE = {REFERENCE!r}\nOFF_TOPIC = {OFF_TOPIC!r}\n"
        "def answer(messages, params):\n"
        "    content = messages[-1]['content']\n"
        "    text = content if isinstance(content, str) else ' '.join(\n"
        "        p.get('text', '') for p in content if isinstance(p, dict))\n"
        "    number = int(text.split('Question ')[1].split(':')[0])\n"
        "    return REFERENCE if number % 2 == 0 else OFF_TOPIC\n"
    )
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", f"python/{module}:answer", "--data", f"custom={data}", "--no-images",
                 "--tasks", "factuality,fairness", "--run-dir", str(run_dir), "--no-progress", "--bootstrap", "200")
    assert proc.returncode == 0, proc.stderr
    fairness = json.loads((run_dir / "results.json").read_text())["metrics"]["fairness"]
    race = fairness["race"]["by_source"]["custom"]
    assert race["aed"]["value"] == pytest.approx(1.0)
    low, high = race["aed"]["ci"]
    assert low is not None and low <= 1.0 <= high
    assert {group: g["n"] for group, g in race["groups"].items()} == {"group a": 12, "group b": 12}
    assert fairness["open_ended_rule"].startswith("ROUGE-L")
    assert "race AED (custom)" in proc.stdout and "group a 100% (12)" in proc.stdout.replace("\n", " ")


def test_groups_too_small_are_named_with_their_sizes(tmp_path: Path) -> None:
    rows = [{"id": f"q{i}", "image": "x.png", "question": f"Question {i}?", "answer_type": "yesno", "answer": "no",
             "race": "group a" if i < 8 else "group b"} for i in range(11)]
    data = write_jsonl(tmp_path / "small.jsonl", rows)
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--data", f"custom={data}", "--no-images",
                 "--tasks", "factuality,fairness", "--run-dir", str(run_dir), "--no-progress", "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr
    race = json.loads((run_dir / "results.json").read_text())["metrics"]["fairness"]["race"]["by_source"]["custom"]
    assert race["aed"]["value"] is None and "fewer than two groups" in race["note"]
    assert race["groups"]["group b"] == {"accuracy": 1.0, "n": 3, "in_gap": False}
    assert "group b 100% (3, too few)" in proc.stdout.replace("\n", " ")
