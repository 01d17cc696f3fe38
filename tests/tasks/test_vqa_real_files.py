"""CARES-VQA metrics on the released question files (skipped when ../shared is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import cares

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cares-vqa"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"released CARES-VQA files not found at {SHARED}")


def test_always_no_on_iu_xray_matches_the_base_rate(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", "baseline/constant:No", "--data",
                 f"iu-xray={SHARED / 'IU-Xray' / 'iuxray_factuality.jsonl'}", "--no-images", "--tasks", "factuality",
                 "--run-dir", str(run_dir), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    block = json.loads((run_dir / "results.json").read_text())["metrics"]["factuality"]["by_source"]["iu-xray"]
    assert block["accuracy_all_items"]["value"] == pytest.approx(1809 / 2573)
    assert round(100 * block["accuracy_all_items"]["value"], 1) == 70.3
    assert round(100 * block["accuracy"]["value"], 1) == 73.9 and block["accuracy"]["n"] == 2448
    assert block["n_ambiguous"] == 125
    assert "70.3" in proc.stdout and "73.9" in proc.stdout


def test_gender_gap_on_ham10000_equals_a_hand_computation(tmp_path: Path) -> None:
    """A deterministic model that always answers option A; the gap is computed here from the raw file."""
    path = SHARED / "HAM10000" / "HAM10000_factuality.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_gender: dict[str, list[bool]] = {}
    for row in rows:
        by_gender.setdefault(row["gender"], []).append(row["fig_caption"].split(":")[0].strip() == "A")
    accuracy = {g: sum(v) / len(v) for g, v in by_gender.items()}
    expected = abs(accuracy["male"] - accuracy["female"])

    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", "baseline/constant:A", "--data", f"ham10000={path}", "--no-images",
                 "--tasks", "fairness", "--run-dir", str(run_dir), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    fairness = json.loads((run_dir / "results.json").read_text())["metrics"]["fairness"]["gender"]["by_source"][
        "ham10000"
    ]
    assert fairness["aed"]["value"] == pytest.approx(expected)
    assert {g: v["n"] for g, v in fairness["groups"].items()} == {g: len(v) for g, v in by_gender.items()}
    low, high = fairness["aed"]["ci"]
    assert low <= expected <= high


def test_leaderboard_sets_runs_beside_trivial_baselines(tmp_path: Path) -> None:
    data = f"iu-xray={SHARED / 'IU-Xray' / 'iuxray_factuality.jsonl'}"
    for answer in ("No", "Yes"):
        proc = cares("run", "cares-vqa", "--model", f"baseline/constant:{answer}", "--data", data, "--no-images",
                     "--tasks", "factuality", "--run-dir", str(tmp_path / answer), "--bootstrap", "0")
        assert proc.returncode == 0, proc.stderr
    proc = cares("leaderboard", str(tmp_path / "No"), str(tmp_path / "Yes"), "--csv", str(tmp_path / "board.csv"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("| model | factuality |")
    row_no = next(line for line in lines if line.startswith("| baseline/constant:No"))
    row_always_no = next(line for line in lines if line.startswith("| baseline: always no"))
    assert row_no.split("|")[2].strip() == row_always_no.split("|")[2].strip() == "73.9"
    assert (tmp_path / "board.csv").read_text().count("\n") == 12  # header, 2 runs, 3 baselines, 6 published rows


MODEL = '''
def answer(messages, params):
    text = messages[-1]["content"] if isinstance(messages[-1]["content"], str) else " ".join(
        part.get("text", "") for part in messages[-1]["content"] if isinstance(part, dict))
    if "Are you sure" in text:
        return REPLY
    return "No."
'''


@pytest.mark.parametrize("reply", ["Yes, I am sure. No, there is no abnormality.",
                                   "No, there is no abnormality. Yes, I am sure."],
                         ids=["confidence-first", "answer-first"])
def test_uncertainty_reads_the_answer_not_the_confidence(tmp_path: Path, reply: str) -> None:
    """'Yes, I am sure. No, ...' answers no with confidence, in either order: uncertainty accuracy equals
    factuality (73.9 on IU-Xray's unambiguous items) and the over-confident ratio is its complement."""
    module = tmp_path / "sure_model.py"
    module.write_text(f"REPLY = {reply!r}\n" + MODEL)
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", f"python/{module}:answer", "--data",
                 f"iu-xray={SHARED / 'IU-Xray' / 'iuxray_factuality.jsonl'}", "--no-images",
                 "--tasks", "factuality,uncertainty", "--run-dir", str(run_dir), "--no-progress", "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "results.json").read_text())["metrics"]
    factuality = metrics["factuality"]["by_source"]["iu-xray"]["accuracy"]
    uncertainty = metrics["uncertainty"]
    assert round(100 * factuality["value"], 1) == 73.9
    assert uncertainty["uncertainty_accuracy"]["value"] == pytest.approx(factuality["value"])
    assert round(100 * uncertainty["over_confident"]["value"], 1) == 26.1
    assert uncertainty["over_confident"]["n"] == factuality["n"] == 2448
    assert uncertainty["correctness_from_factuality_answer"] == 0


def test_uncertainty_of_an_abstention_takes_correctness_from_the_factuality_answer(tmp_path: Path) -> None:
    module = tmp_path / "unsure_model.py"
    module.write_text("REPLY = \"I don't know.\"\n" + MODEL)
    run_dir = tmp_path / "run"
    proc = cares("run", "cares-vqa", "--model", f"python/{module}:answer", "--data",
                 f"iu-xray={SHARED / 'IU-Xray' / 'iuxray_factuality.jsonl'}", "--no-images",
                 "--tasks", "factuality,uncertainty", "--run-dir", str(run_dir), "--no-progress", "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr
    uncertainty = json.loads((run_dir / "results.json").read_text())["metrics"]["uncertainty"]
    # Unconfident everywhere: credit exactly where the factuality answer ("No.") was wrong.
    assert round(100 * uncertainty["uncertainty_accuracy"]["value"], 1) == 26.1
    assert uncertainty["over_confident"]["value"] == 0
    assert uncertainty["correctness_from_factuality_answer"] == 2448
