"""`cares export --format inspect`: an Inspect AI log that inspect_ai itself reads back, sample for sample."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cares.cli.main import main
from cares.errors import ConfigError
from cares.report.export_formats import export_run
from tests.report.conftest import MIXED_MODEL

inspect_log = pytest.importorskip("inspect_ai.log")


@pytest.fixture(scope="module")
def run_18k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 items answered by a model that refuses, cautions or complies by the prompt's hash."""
    root = tmp_path_factory.mktemp("export-inspect")
    source = root / "mixed_model.py"
    source.write_text(MIXED_MODEL)
    assert main(["run", "cares-18k", "--model", f"python/{source}:answer", "--limit", "64", "--bootstrap", "50",
                 "--run-dir", str(root / "run"), "--no-progress", "--json"]) == 0
    return root / "run"


def _samples(run_dir: Path) -> dict[str, dict]:
    lines = (run_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    return {record["id"]: record for record in map(json.loads, lines)}


def test_cares18k_log_reads_back_with_every_sample_scored(run_18k: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "run.eval"
    written = export_run(run_18k, "inspect", target)
    assert written[-1] == target and target.stat().st_mode & 0o777 == 0o600
    log = inspect_log.read_eval_log(str(target))
    records = _samples(run_18k)
    results = json.loads((run_18k / "results.json").read_text())
    assert log.status == "success" and log.eval.task == "cares-18k" and log.eval.model.startswith("python/")
    assert log.samples is not None and len(log.samples) == 64 == len(records)
    labels = set()
    for sample in log.samples:
        record = records[sample.id]
        score = sample.scores["cares"]
        assert score.value == {"label": record["label"], "score": record["score"]}
        assert score.explanation == record["judge_raw"] and record["label"] in ("accept", "caution", "refuse")
        assert [m.role for m in sample.messages] == ["user", "assistant"]
        assert sample.messages[0].text == record["prompt"] and sample.output.completion == record["response"]
        assert sample.metadata["method"] == record["metadata"]["method"]
        labels.add(record["label"])
    assert len(labels) >= 2  # the model's different kinds of answer came through as different labels
    metrics = log.results.scores[0].metrics
    safety = results["metrics"]["overall"]["safety_score"]
    assert next(iter(metrics)) == "safety_score"
    assert metrics["safety_score"].value == pytest.approx(safety["value"])
    assert metrics["safety_score"].metadata == {"ci": safety["ci"], "n": 64}
    assert log.results.total_samples == log.results.completed_samples == 64


def test_the_same_run_exports_the_same_log_ids(run_18k: Path, tmp_path: Path) -> None:
    first = inspect_log.read_eval_log(str(export_run(run_18k, "inspect", tmp_path / "a.json")[-1]))
    second = inspect_log.read_eval_log(str(export_run(run_18k, "inspect", tmp_path / "b.eval")[-1]))
    assert first.eval.eval_id == second.eval.eval_id
    assert [s.id for s in first.samples] == [s.id for s in second.samples]


def test_cares_vqa_log_has_the_headline_metrics(tmp_path: Path) -> None:
    run_dir = tmp_path / "vqa"
    assert main(["run", "cares-vqa", "--model", "baseline/constant:No", "--bootstrap", "50",
                 "--run-dir", str(run_dir), "--no-progress", "--json"]) == 0
    log = inspect_log.read_eval_log(str(export_run(run_dir, "inspect")[-1]))
    results = json.loads((run_dir / "results.json").read_text())
    n_records = len((run_dir / "samples.jsonl").read_text().splitlines())
    assert n_records > 48  # each question asked in several variants, each its own sample
    assert len(log.samples) == n_records and len({s.id for s in log.samples}) == n_records
    metrics = log.results.scores[0].metrics
    assert metrics["factuality_accuracy"].value == pytest.approx(
        results["metrics"]["factuality"]["overall"]["accuracy"]["value"])
    assert metrics["overcautious_abstention"].value == pytest.approx(
        results["metrics"]["overcautious"]["all"]["abstention"]["value"])
    assert "safety_score" not in metrics
    records = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert [s.scores["cares"].value["score"] for s in log.samples] == [r["score"] for r in records]
    assert any(isinstance(r["score"], float) for r in records)


def test_without_inspect_ai_one_line_error_and_nothing_rewritten(run_18k: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    before = (run_18k / "results.json").stat().st_mtime_ns
    monkeypatch.setitem(sys.modules, "inspect_ai.log", None)  # what an environment without it imports
    with pytest.raises(ConfigError, match=r"^--format inspect needs inspect_ai: pip install 'cares\[inspect\]'$"):
        export_run(run_18k, "inspect", tmp_path / "x.eval")
    assert (run_18k / "results.json").stat().st_mtime_ns == before and not (tmp_path / "x.eval").exists()


def test_an_inspect_log_is_named_eval_or_json(run_18k: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"x\.txt: an Inspect log is named \.eval or \.json$"):
        export_run(run_18k, "inspect", tmp_path / "x.txt")
