"""responses.meta: stored with each answer, added to stores written before the column existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cares.store import RunStore
from cares.store.runstore import SCHEMA_VERSION
from cares.types import GenerationParams, Request, Response, ResponseStatus, Usage

OLD_RESPONSES = """CREATE TABLE responses (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, status TEXT NOT NULL, text TEXT, error TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, attempts INTEGER, latency_s REAL,
    finish_reason TEXT, request TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO responses VALUES ('old', 'm/x', 'ok', 'old answer', NULL, 1, 2, 1, 0.1, 'stop', '{}', 0);
"""


def old_store(run_dir: Path) -> Path:
    run_dir.mkdir()
    db = sqlite3.connect(run_dir / "run.sqlite")
    db.executescript(OLD_RESPONSES)
    db.commit()
    db.close()
    return run_dir


def columns(run_dir: Path) -> list[str]:
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return [row[1] for row in db.execute("PRAGMA table_info(responses)")]
    finally:
        db.close()


def test_old_store_gains_the_meta_column_and_keeps_its_answers(tmp_path: Path) -> None:
    run_dir = old_store(tmp_path / "run")
    # A read-only look changes nothing and still reads the old rows.
    with RunStore.in_dir(run_dir, read_only=True) as store:
        assert store.response("old").text == "old answer" and store.response("old").meta is None
        assert store.response("missing") is None
    assert "meta" not in columns(run_dir)
    request = Request.chat("q", GenerationParams())
    decision = {"guard": {"detector_score": 0.7, "flagged": True, "reminder_applied": True}}
    with RunStore.in_dir(run_dir) as store:
        assert store.get_meta("schema_version") == SCHEMA_VERSION == 2
        answer = Response("new", "m/x", ResponseStatus.OK, "a", None, Usage(), 1, 0.1, meta=decision)
        store.put_response(answer, request)
    assert columns(run_dir)[-1] == "meta"
    with RunStore.in_dir(run_dir) as store:  # opening again is a no-op
        responses = store.responses()
    assert responses["old"].meta is None and responses["old"].text == "old answer"
    assert responses["new"].meta == decision


def test_a_failure_never_overwrites_the_meta_of_an_answer(tmp_path: Path) -> None:
    request = Request.chat("q", GenerationParams())
    with RunStore.in_dir(tmp_path) as store:
        store.put_response(Response("k", "m", ResponseStatus.FAILED, None, "boom", Usage(), 1, 0.1), request)
        store.put_response(Response("k", "m", ResponseStatus.OK, "a", None, Usage(), 1, 0.1, meta={"x": 1}), request)
        store.put_response(Response("k", "m", ResponseStatus.FAILED, None, "boom", Usage(), 1, 0.1), request)
        assert store.response("k").meta == {"x": 1}
