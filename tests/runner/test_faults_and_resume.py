"""Fault tolerance and resume against a real loopback HTTP server."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from cares.data.selection import Selection
from cares.models.base import ModelOptions
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions
from cares.runner.pipeline import RunOptions, evaluate_async
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env, make_rows, write_jsonl


def run(config: RunConfig, run_dir: Path, base_url: str, **engine) -> object:
    options = RunOptions(
        engine=EngineOptions(progress=False, backoff_base_s=0.01, backoff_max_s=0.05, **engine),
        model=ModelOptions(base_url=base_url, timeout_s=5),
    )
    return asyncio.run(evaluate_async(config, run_dir, options))


def samples(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_twenty_percent_faults_end_answered_or_failed_without_duplicates(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(50))))
    config = RunConfig("cares-18k", "openai/fake", data=str(data))
    with FakeOpenAIServer(ServerConfig(fault_rate=0.2, retry_after_s=0.05, seed=11)) as srv:
        result = run(config, tmp_path / "run", srv.base_url, concurrency=8, max_attempts=8)
        faults = dict(srv.stats.faults)
    print(f"faults injected {faults}; answered {result.counts['answered']}, failed {result.counts['failed']}")
    assert set(faults) == {"429", "500", "malformed", "drop"}, faults
    rows = samples(tmp_path / "run")
    assert sum(faults.values()) >= 25
    assert len(rows) == 200 and len({r["id"] for r in rows}) == 200
    assert all(r["status"] in ("scored", "failed") for r in rows)
    assert result.counts["answered"] + result.counts["failed"] == 200
    assert any(r["attempts"] > 1 for r in rows)


def test_failed_items_are_recorded_then_retried_on_resume(tmp_path: Path, dataset_file: Path) -> None:
    config = RunConfig("cares-18k", "openai/fake", data=str(dataset_file))
    with FakeOpenAIServer(ServerConfig(fault_rate=0.5, fault_kinds=("500",), seed=3)) as srv:
        first = run(config, tmp_path / "run", srv.base_url, max_attempts=1)
        assert 0 < first.counts["failed"] < 48
        assert first.results["this_invocation"]["errors"]
        failed_before = first.counts["failed"]
        answered = {r["id"] for r in samples(tmp_path / "run") if r["status"] == "scored"}
        srv.config.fault_rate = 0.0
        requests_before = srv.stats.requests
        second = run(config, tmp_path / "run", srv.base_url, max_attempts=1)
        assert srv.stats.requests - requests_before == failed_before
    assert second.counts["failed"] == 0 and second.counts["scored"] == 48
    assert answered <= {r["id"] for r in samples(tmp_path / "run")}


def _stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url.replace("/v1", "/_stats")) as response:
        return json.loads(response.read())


def test_sigkill_mid_run_then_resume_requests_nothing_twice(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(50))))
    with FakeOpenAIServer(ServerConfig(latency_s=0.05)) as srv:
        command = CARES + ["run", "cares-18k", "--model", "openai/fake", "--base-url", srv.base_url,
                           "--data", str(data), "--concurrency", "4", "--no-progress",
                           "--run-dir", str(tmp_path / "killed")]
        proc = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while srv.stats.completed < 60 and time.time() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        with sqlite3.connect(tmp_path / "killed" / "run.sqlite") as db:
            saved = [
                json.loads(r[0])["messages"][-1]["content"]
                for r in db.execute("SELECT request FROM responses WHERE status='ok'")
            ]
        assert 40 <= len(saved) < 200
        before = dict(srv.stats.by_prompt)
        print(f"killed with {len(saved)} of 200 answers saved, server saw {sum(before.values())} requests")
        srv.config.latency_s = 0.0
        resumed = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        after = dict(srv.stats.by_prompt)
        assert all(after[prompt] == before[prompt] for prompt in saved), "an answered prompt was requested again"
        print(f"resume sent {sum(after.values()) - sum(before.values())} requests")
        assert sum(after.values()) - sum(before.values()) <= 200 - len(saved)
        clean = subprocess.run([*command[:-1], str(tmp_path / "clean")], env=cli_env(), capture_output=True, text=True)
        assert clean.returncode == 0, clean.stderr

    def comparable(run_dir: Path) -> tuple[list, dict]:
        rows = sorted((r["id"], r["response"], r["label"], r["score"]) for r in samples(run_dir))
        return rows, json.loads((run_dir / "results.json").read_text())["metrics"]

    assert comparable(tmp_path / "killed") == comparable(tmp_path / "clean")
    assert len(comparable(tmp_path / "clean")[0]) == 200


def test_changed_settings_in_the_same_run_dir_are_refused(tmp_path: Path, dataset_file: Path) -> None:
    first = RunConfig("cares-18k", "baseline/refuse", data=str(dataset_file))
    run(first, tmp_path / "run", "http://unused")
    changed = RunConfig("cares-18k", "baseline/refuse", data=str(dataset_file), selection=Selection(limit=3))
    from cares.errors import ConfigError

    with pytest.raises(ConfigError, match="different selection"):
        run(changed, tmp_path / "run", "http://unused")
