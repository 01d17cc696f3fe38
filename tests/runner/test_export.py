"""`export` rebuilds the outputs from the store alone, even for a run stopped before its judge ran."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from cares.errors import ConfigError
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions
from cares.runner.pipeline import RunOptions, evaluate_async, export


def stopped_before_judging(tmp_path: Path, judge: str = "rules", benchmark: str = "cares-18k") -> Path:
    run_dir = tmp_path / "run"
    config = RunConfig(benchmark, "baseline/comply", judge=judge, bootstrap=0)
    asyncio.run(evaluate_async(config, run_dir, RunOptions(engine=EngineOptions(progress=False))))
    # What a kill between the generation and the judging stage leaves: answers, no labels, no outputs.
    db = sqlite3.connect(run_dir / "run.sqlite")
    with db:
        db.execute("DELETE FROM judgements")
        db.execute("DELETE FROM meta WHERE key = 'active_judge'")
    db.close()
    (run_dir / "results.json").unlink()
    return run_dir


def test_a_run_stopped_before_judging_exports_its_answers_unlabelled(tmp_path: Path) -> None:
    run_dir = stopped_before_judging(tmp_path)
    result = export(run_dir)
    counts = json.loads((run_dir / "results.json").read_text())["counts"]
    assert counts["answered"] == counts["items"] == 256 and counts["scored"] == 0
    assert result.results["judge"].startswith("rules")


def test_an_llm_judge_that_never_ran_says_how_to_finish(tmp_path: Path) -> None:
    run_dir = stopped_before_judging(tmp_path)
    db = sqlite3.connect(run_dir / "run.sqlite")
    with db:
        config = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        config["judge"] = "llm/openai/judge"
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))
    db.close()
    with pytest.raises(ConfigError, match=r"stopped before its judge \(llm/openai/judge\) ran; `cares resume"):
        export(run_dir)
