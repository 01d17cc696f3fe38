"""Judging while the run still asks: the same labels as judging after, and most of them early."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from cares.judges import get_judge
from cares.models.base import ModelOptions
from cares.runner.config import RunConfig
from cares.runner.engine import EngineOptions
from cares.runner.pipeline import RunOptions, evaluate_async, rescore_async
from cares.runner.warm import AHEAD_POLL_S
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import make_rows, write_jsonl


def _labels(run_dir: Path, judge: str) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        rows = db.execute("SELECT response_key, label, raw FROM judgements WHERE judge = ?", (judge,))
        return {key: (label, raw) for key, label, raw in rows}


def test_answers_are_judged_while_the_rest_are_awaited_and_labelled_as_after(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(30))))  # 120 prompts
    config = RunConfig("cares-18k", "openai/slow", data=str(data))
    run_dir = tmp_path / "run"
    # 120 answers, 4 at a time, 50 ms each: 1.5 s of asking, several of the judge's polls.
    with FakeOpenAIServer(ServerConfig(latency_s=0.05)) as srv:
        options = RunOptions(engine=EngineOptions(progress=False, concurrency=4),
                             model=ModelOptions(base_url=srv.base_url, timeout_s=5),
                             answer_cache_path=tmp_path / "cache.sqlite")
        asyncio.run(evaluate_async(config, run_dir, options))
    judge = get_judge("rules").id
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        last_answer = db.execute("SELECT MAX(created_at) FROM responses").fetchone()[0]
        early = db.execute("SELECT COUNT(*) FROM judgements WHERE created_at < ? - ?",
                           (last_answer, AHEAD_POLL_S)).fetchone()[0]
    ahead = _labels(run_dir, judge)
    assert len(ahead) == 120
    assert early >= 60, f"only {early} of 120 answers were judged while the run was asking"
    # The same labels and evidence as the judging stage gives when it judges them all after.
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        db.execute("DELETE FROM judgements")
    asyncio.run(rescore_async(run_dir, "rules"))
    assert _labels(run_dir, judge) == ahead
