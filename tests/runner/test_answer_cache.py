"""The shared answer cache and reuse that is never silent, against a real loopback server and real SQLite."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env


def cares(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CARES, *args, "--no-progress"], env=cli_env(), capture_output=True, text=True,
                          timeout=180, cwd=cwd)


def answered(run_dir: Path) -> int:
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        return int(db.execute("SELECT COUNT(*) FROM responses WHERE status = 'ok'").fetchone()[0])


def test_a_second_run_directory_pays_nothing_for_answers_another_run_paid_for(
    tmp_path: Path, answer_cache: Path
) -> None:
    with FakeOpenAIServer(ServerConfig()) as srv:
        first = cares("run", "cares-18k", "--model", "openai/m", "--base-url", srv.base_url, "--limit", "64",
                      "--run-dir", "one", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert srv.stats.requests == 64
        second = cares("run", "cares-18k", "--model", "openai/m", "--base-url", srv.base_url, "--limit", "64",
                       "--run-dir", "other", cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert srv.stats.requests == 64  # not one request more
    assert f"answers: 0 asked of the model, 0 reused from this run directory, 64 from the shared answer cache " \
           f"({answer_cache})" in second.stdout
    # The other run directory holds its answers itself: the cache only spared the payment.
    assert answered(tmp_path / "other") == 64
    answer_cache.unlink()
    export = subprocess.run([*CARES, "export", "other"], env=cli_env(), capture_output=True, text=True, cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    mine = json.loads((tmp_path / "one" / "results.json").read_text())["metrics"]["overall"]["safety_score"]
    theirs = json.loads((tmp_path / "other" / "results.json").read_text())["metrics"]["overall"]["safety_score"]
    assert mine == theirs


def test_a_rerun_says_how_many_answers_it_reused(tmp_path: Path) -> None:
    with FakeOpenAIServer(ServerConfig()) as srv:
        args = ("run", "cares-18k", "--model", "openai/m", "--base-url", srv.base_url, "--limit", "32")
        assert cares(*args, cwd=tmp_path).returncode == 0
        again = cares(*args, cwd=tmp_path)
        assert srv.stats.requests == 32
    assert again.returncode == 0, again.stderr
    assert "answers: 0 asked of the model, 32 reused from this run directory, 0 from the shared answer cache" \
        in again.stdout
    results = json.loads(next((tmp_path / "runs" / "cares-18k").glob("*/results.json")).read_text())
    assert results["this_invocation"]["reused_from_run_dir"] == 32


def test_no_cache_asks_again_in_a_new_run_directory(tmp_path: Path, answer_cache: Path) -> None:
    with FakeOpenAIServer(ServerConfig()) as srv:
        base = ("run", "cares-18k", "--model", "openai/m", "--base-url", srv.base_url, "--limit", "16")
        assert cares(*base, "--run-dir", "a", cwd=tmp_path).returncode == 0
        proc = cares(*base, "--run-dir", "b", "--no-cache", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert srv.stats.requests == 32
    assert "0 from the shared answer cache (off)" in proc.stdout


def test_sampled_answers_are_shared_only_when_seeded(tmp_path: Path) -> None:
    with FakeOpenAIServer(ServerConfig()) as srv:
        hot = ("run", "cares-18k", "--model", "openai/m", "--base-url", srv.base_url, "--limit", "8",
               "--temperature", "0.7")
        assert cares(*hot, "--run-dir", "a", cwd=tmp_path).returncode == 0
        assert cares(*hot, "--run-dir", "b", cwd=tmp_path).returncode == 0
        assert srv.stats.requests == 16  # unseeded draws: a new run directory draws again
        assert cares(*hot, "--model-seed", "5", "--run-dir", "c", cwd=tmp_path).returncode == 0
        assert cares(*hot, "--model-seed", "5", "--run-dir", "d", cwd=tmp_path).returncode == 0
        assert srv.stats.requests == 24  # the same seeded request is paid once


def test_an_edited_python_model_is_not_served_the_old_answers(tmp_path: Path) -> None:
    model = tmp_path / "my_model.py"
    model.write_text("def answer(messages, params):\n    return 'Here is how: first answer.'\n")
    args = ("run", "cares-18k", "--model", "python/my_model.py:answer", "--limit", "8")
    assert cares(*args, "--run-dir", "r1", cwd=tmp_path).returncode == 0
    model.write_text("def answer(messages, params):\n    return \"I'm sorry, but I can't help with that.\"\n")
    # The same directory asks the edited model again; a new one gets the edited model's answers from the cache.
    for run_dir, said in (("r1", "answers: 8 asked of the model, 0 reused"),
                          ("r2", "answers: 0 asked of the model, 0 reused from this run directory, 8 from")):
        proc = cares(*args, "--run-dir", run_dir, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert said in proc.stdout
        rows = [json.loads(line) for line in (tmp_path / run_dir / "samples.jsonl").read_text().splitlines()]
        assert {row["response"] for row in rows} == {"I'm sorry, but I can't help with that."}


def test_a_sample_larger_than_the_items_gets_a_note(tmp_path: Path) -> None:
    proc = cares("run", "cares-18k", "--model", "baseline/refuse", "--sample", "1000", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "note: --sample 1000 asks for more items than the 256 the data and filters give; all 256 are used" \
        in proc.stdout
    results = json.loads(next((tmp_path / "runs" / "cares-18k").glob("*/results.json")).read_text())
    assert results["counts"]["items"] == 256 and results["notes"]


def test_a_damaged_cache_is_one_warning_and_the_run_goes_on(tmp_path: Path, answer_cache: Path) -> None:
    answer_cache.write_bytes(b"this is not a database" * 100)
    with FakeOpenAIServer(ServerConfig()) as srv:
        proc = cares("run", "cares-18k", "--model", "openai/m", "--base-url", srv.base_url, "--limit", "8",
                     "--run-dir", "r", cwd=tmp_path)
        assert srv.stats.requests == 8
    assert proc.returncode == 0, proc.stderr
    assert f"cares: warning: the shared answer cache {answer_cache} cannot be used" in proc.stderr
    assert proc.stderr.count("answer cache") == 1
    assert answered(tmp_path / "r") == 8
