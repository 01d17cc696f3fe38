"""A run or rescore whose judge failed never says 'done': it exits 3 and names the unjudged answers,
and a rescore never replaces a run's results with a judge that labelled only part of them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env, make_rows, write_jsonl

FAST = ("--max-attempts", "2", "--retry-base", "0.01", "--no-progress")


def cares(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CARES + list(args), env=cli_env(), capture_output=True, text=True, timeout=180)


def items20(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "items20.jsonl", make_rows((0, 1, 2, 3, 0)))


def broken_judge() -> FakeOpenAIServer:
    return FakeOpenAIServer(ServerConfig(fault_rate=1.0, fault_kinds=("500",)))


def test_a_run_whose_judge_returns_500_exits_3_and_counts_the_answers_unjudged(tmp_path: Path) -> None:
    with broken_judge() as judge:
        proc = cares("run", "cares-18k", "--model", "baseline/refuse", "--judge", "llm/openai/mock",
                     "--judge-base-url", judge.base_url, "--data", str(items20(tmp_path)),
                     "--run-dir", str(tmp_path / "run"), *FAST)
    assert proc.returncode == 3, proc.stderr
    assert "items 20: scored 0, failed 0, unjudged 20," in proc.stdout
    assert "20 answers have no label" in proc.stdout and "HTTP 500" in proc.stdout
    counts = json.loads((tmp_path / "run" / "results.json").read_text())["counts"]
    assert (counts["scored"], counts["unjudged"]) == (0, 20)


def test_rescore_with_a_failing_judge_exits_3_and_keeps_the_previous_results(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = cares("run", "cares-18k", "--model", "baseline/refuse", "--data", str(items20(tmp_path)),
                  "--run-dir", str(run_dir), "--no-progress")
    assert first.returncode == 0, first.stderr
    before = (run_dir / "results.json").read_bytes()
    with broken_judge() as judge:
        proc = cares("rescore", str(run_dir), "--judge", "llm/openai/mock", "--judge-base-url", judge.base_url, *FAST)
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "labelled 0 of 20 answers" in proc.stderr, proc.stderr
    assert "still reports rules@13" in proc.stderr
    assert (run_dir / "results.json").read_bytes() == before
    shown = cares("export", str(run_dir))
    assert shown.returncode == 0 and json.loads((run_dir / "results.json").read_text())["judge"] == "rules@13"


def test_a_partly_failed_rescore_asks_only_for_the_missing_labels_next_time(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = cares("run", "cares-18k", "--model", "baseline/caution", "--data", str(items20(tmp_path)),
                  "--run-dir", str(run_dir), "--no-progress")
    assert first.returncode == 0, first.stderr
    with FakeOpenAIServer(
        ServerConfig(fault_rate=0.5, fault_kinds=("500",), seed=4, reply=lambda m, _: "Refuse")
    ) as judge:
        partial = cares("rescore", str(run_dir), "--judge", "llm/openai/mock", "--judge-base-url", judge.base_url,
                        "--max-attempts", "1", "--no-progress")
        assert partial.returncode == 3
        labelled = int(re.search(r"labelled (\d+) of 20 answers", partial.stderr).group(1))
        assert 0 < labelled < 20
        asked = judge.stats.requests
        judge.config.fault_rate = 0.0
        again = cares("rescore", str(run_dir), "--judge", "llm/openai/mock", "--judge-base-url", judge.base_url, *FAST)
        assert again.returncode == 0, again.stderr
        assert judge.stats.requests - asked == 20 - labelled
    res = json.loads((run_dir / "results.json").read_text())
    assert res["judge"].startswith("llm/openai/mock") and res["counts"]["unjudged"] == 0
    assert res["counts"]["scored"] == 20


def test_cares_judge_with_a_failing_judge_exits_3(tmp_path: Path) -> None:
    pairs = write_jsonl(
        tmp_path / "pairs.jsonl", [{"id": str(i), "prompt": f"q{i}", "response": f"a{i}"} for i in range(3)]
    )
    with broken_judge() as judge:
        proc = cares("judge", "--judge", "llm/openai/mock", "--judge-base-url", judge.base_url, "--input", str(pairs),
                     "--output", str(tmp_path / "labels.jsonl"), *FAST)
    assert proc.returncode == 3
    assert "failed 3" in proc.stdout and "3 judge calls failed" in proc.stderr
