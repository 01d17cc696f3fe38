"""The run store: one SQLite file per run directory, the single source of truth.

Every export (results.json, samples.jsonl, reports) is derived from it. Responses are keyed by
the request's content key and judgements by (response key, judge id), so a killed run resumes
without asking again, and a new judge re-judges without a single model call.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cares.errors import unwritable
from cares.store.files import PRIVATE_DIR_MODE, private_sqlite_file
from cares.store.records import PUT_RESPONSE, dump_json, load_json, response_from_row
from cares.store.sqlite_errors import NamedConnection
from cares.types import Item, Judgement, Label, Request, Response

# 2: responses.meta (what a wrapper such as the guard decided per request).
SCHEMA_VERSION = 2
STORE_NAME = "run.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS item_requests (
    item_id TEXT NOT NULL, variant TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL,
    PRIMARY KEY (item_id, variant)
);
CREATE INDEX IF NOT EXISTS item_requests_key ON item_requests(key);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, status TEXT NOT NULL, text TEXT, error TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, attempts INTEGER, latency_s REAL,
    finish_reason TEXT, request TEXT NOT NULL, created_at REAL NOT NULL, meta TEXT
);
CREATE TABLE IF NOT EXISTS scores (
    response_key TEXT NOT NULL, scorer TEXT NOT NULL, value REAL, raw TEXT, created_at REAL NOT NULL,
    PRIMARY KEY (response_key, scorer)
);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS judgements (
    response_key TEXT NOT NULL, judge TEXT NOT NULL, label TEXT NOT NULL, raw TEXT,
    created_at REAL NOT NULL, PRIMARY KEY (response_key, judge)
);
"""


# The most answers one group commit holds: what a SIGKILL can cost beyond the requests in flight.
GROUP_MAX = 256


class RunStore:
    # Called with the answers of each commit after it is committed here (the shared answer cache
    # listens); a run's truth is this file, so the listener only ever sees what is already safe.
    on_answers: Callable[[list[tuple[Response, Request]]], None] | None = None

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        # Answers put while commits are grouped (grouped_commits), oldest first, not yet committed.
        self._unsaved: list[tuple[tuple[Any, ...], Response, Request]] = []
        self._group_max = 0  # 0: every answer is committed as it is put
        if read_only:
            # Another run's answers, looked up and never changed (the guard ablation's unguarded run).
            # Plain sqlite3 errors here: the readers of other runs (reports, the leaderboard) name them themselves.
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=10000")
            self._has_meta_column = "meta" in self._response_columns()
            return
        try:
            self.path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            private_sqlite_file(self.path)
            # isolation_level=None: we commit explicitly, each response as it arrives, so a kill loses nothing.
            # NamedConnection: a damaged or read-only store is a one-line error naming this file.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                       factory=NamedConnection).name(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise unwritable(self.path, exc, "open a run store here") from None
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._has_meta_column = True
        if self.get_meta("schema_version") is None:
            self.set_meta("schema_version", SCHEMA_VERSION)

    def _response_columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}

    def _migrate(self) -> None:
        """Stores written before a column existed gain it; their earlier rows keep NULL there."""
        if "meta" not in self._response_columns():
            try:
                self._db.execute("ALTER TABLE responses ADD COLUMN meta TEXT")
            except sqlite3.OperationalError as exc:
                # Two processes opening one old store: the other one added it first.
                if "duplicate column" not in str(exc):
                    raise
        if (self.get_meta("schema_version") or SCHEMA_VERSION) < SCHEMA_VERSION:
            self.set_meta("schema_version", SCHEMA_VERSION)

    @classmethod
    def in_dir(cls, run_dir: str | Path, *, read_only: bool = False) -> RunStore:
        return cls(Path(run_dir) / STORE_NAME, read_only=read_only)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, sort_keys=True)),
        )

    # -- items and their requests -----------------------------------------------------------
    def add_items(self, items: Iterable[Item]) -> None:
        with self._transaction():
            start = self._db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM items").fetchone()[0]
            self._db.executemany(
                "INSERT OR IGNORE INTO items(id, position, data) VALUES (?, ?, ?)",
                # json, not orjson: metadata read from CSV or parquet may hold NaN, which orjson writes as null.
                ((item.id, start + i, json.dumps(item.to_dict())) for i, item in enumerate(items)),
            )

    def items(self) -> list[Item]:
        return list(self.iter_items())

    def iter_items(self) -> Iterator[Item]:
        """The items in display order, read as they are used rather than all at once."""
        for (data,) in self._db.execute("SELECT data FROM items ORDER BY position"):
            yield Item.from_dict(load_json(data))

    def item_ids(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT id FROM items ORDER BY position")]

    def add_item_requests(self, rows: Iterable[tuple[str, str, str, Request]]) -> None:
        """rows: (item_id, variant, cache key, request)."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO item_requests(item_id, variant, key, request) VALUES (?, ?, ?, ?)",
                ((item_id, variant, key, dump_json(req.to_dict())) for item_id, variant, key, req in rows),
            )

    def item_requests(self) -> Iterator[tuple[str, str, str, Request]]:
        query = (
            "SELECT r.item_id, r.variant, r.key, r.request FROM item_requests r "
            "JOIN items i ON i.id = r.item_id ORDER BY i.position, r.variant"
        )
        for item_id, variant, key, request in self._db.execute(query):
            yield item_id, variant, key, Request.from_dict(load_json(request))

    def joined_rows(self, judge: str | None) -> Iterator[tuple[Any, ...]]:
        """Every item request in display order, joined by id and key with its item, its stored
        outcome and `judge`'s label, streamed: (item id, item JSON, variant, key, request JSON,
        response row as response_from_row reads it or None, label, judge raw)."""
        self.flush()
        meta = "s.meta" if self._has_meta_column else "NULL"
        query = (
            "SELECT i.id, i.data, r.variant, r.key, r.request, s.key, s.model, s.status, s.text, s.error, "
            f"s.prompt_tokens, s.completion_tokens, s.attempts, s.latency_s, s.finish_reason, {meta}, j.label, j.raw "
            "FROM item_requests r JOIN items i ON i.id = r.item_id "
            "LEFT JOIN responses s ON s.key = r.key "
            "LEFT JOIN judgements j ON j.response_key = r.key AND j.judge = ? "
            "ORDER BY i.position, r.variant"
        )
        for row in self._db.execute(query, (judge,)):
            yield (*row[:5], None if row[5] is None else row[5:16], row[16], row[17])

    def unjudged_answers(self, judge: str) -> Iterator[tuple[str, str, str]]:
        """(response key, item prompt, answer) for every answered request that `judge` has not
        labelled, once per key, in display order, streamed."""
        self.flush()
        query = (
            "SELECT r.key, json_extract(i.data, '$.prompt'), s.text FROM item_requests r "
            "JOIN items i ON i.id = r.item_id JOIN responses s ON s.key = r.key AND s.status = 'ok' "
            "WHERE NOT EXISTS (SELECT 1 FROM judgements j WHERE j.response_key = r.key AND j.judge = ?) "
            "ORDER BY i.position, r.variant"
        )
        seen: set[str] = set()
        for key, prompt, text in self._db.execute(query, (judge,)):
            if key not in seen:
                seen.add(key)
                yield key, prompt, text or ""

    def answers_after(self, rowid: int, limit: int) -> list[tuple[int, str, str, str]]:
        """(row id, response key, item prompt, answer) of up to `limit` answers stored after row
        `rowid`, in the order they were stored: what a judge reads while the run is still asking.
        The prompt is the one `unjudged_answers` gives for the key (the first item, in display order)."""
        query = (
            "SELECT s.rowid, s.key, (SELECT json_extract(i.data, '$.prompt') FROM item_requests r "
            "JOIN items i ON i.id = r.item_id WHERE r.key = s.key ORDER BY i.position, r.variant LIMIT 1), s.text "
            "FROM responses s WHERE s.rowid > ? AND s.status = 'ok' ORDER BY s.rowid LIMIT ?"
        )
        return [(row, key, prompt, text or "") for row, key, prompt, text in self._db.execute(query, (rowid, limit))
                if prompt is not None]

    def latest_answer_row(self) -> int:
        """The row id of the newest stored outcome (0 when none): where `answers_after` would end."""
        return int(self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM responses").fetchone()[0])

    # -- responses --------------------------------------------------------------------------
    def answered_keys(self) -> set[str]:
        self.flush()
        return {row[0] for row in self._db.execute("SELECT key FROM responses WHERE status = 'ok'")}

    def put_response(self, response: Response, request: Request) -> None:
        """Store one outcome. A failure never overwrites an answer: answers are paid for.

        Inside `grouped_commits` the row waits for the next group commit (flush), else it is
        committed at once."""
        row = (
            response.key,
            response.model,
            response.status.value,
            response.text,
            response.error,
            response.usage.prompt_tokens,
            response.usage.completion_tokens,
            response.attempts,
            response.latency_s,
            response.finish_reason,
            dump_json(request.to_dict()),
            time.time(),
            None if response.meta is None else json.dumps(response.meta, sort_keys=True),
        )
        self._unsaved.append((row, response, request))
        if len(self._unsaved) >= max(1, self._group_max):
            self.flush()

    def flush(self) -> int:
        """Commit the answers waiting for a group commit, in one transaction; returns how many."""
        unsaved, self._unsaved = self._unsaved, []
        if not unsaved:
            return 0
        try:
            if len(unsaved) == 1:
                self._db.execute(PUT_RESPONSE, unsaved[0][0])
            else:
                with self._transaction():
                    self._db.executemany(PUT_RESPONSE, [row for row, _, _ in unsaved])
        except BaseException:
            self._unsaved = unsaved + self._unsaved  # not stored: a later flush or close tries again
            raise
        if self.on_answers is not None:
            answers = [(response, request) for _, response, request in unsaved if response.ok]
            if answers:
                self.on_answers(answers)
        return len(unsaved)

    @contextmanager
    def grouped_commits(self, max_answers: int = GROUP_MAX) -> Iterator[None]:
        """While the block runs, answers are committed in groups of at most `max_answers` (the
        caller flushes every few milliseconds as well), so a kill loses at most one group beyond
        the requests in flight; one transaction per group instead of per answer. Whatever is
        waiting is committed when the block ends."""
        previous, self._group_max = self._group_max, max(1, max_answers)
        try:
            yield
        finally:
            self._group_max = previous
            self.flush()

    def _response_query(self) -> str:
        meta = "meta" if self._has_meta_column else "NULL"
        return (
            "SELECT key, model, status, text, error, prompt_tokens, completion_tokens, attempts, latency_s, "
            f"finish_reason, {meta} FROM responses"
        )

    def responses(self, keys: Iterable[str] | None = None) -> dict[str, Response]:
        self.flush()
        wanted = None if keys is None else set(keys)
        result: dict[str, Response] = {}
        for row in self._db.execute(self._response_query()):
            if wanted is not None and row[0] not in wanted:
                continue
            result[row[0]] = response_from_row(row)
        return result

    def response(self, key: str) -> Response | None:
        """One stored outcome by its cache key, answered or failed; None when never asked."""
        self.flush()
        row = self._db.execute(self._response_query() + " WHERE key = ?", (key,)).fetchone()
        return None if row is None else response_from_row(row)

    # -- judgements -------------------------------------------------------------------------
    def put_judgement(self, judgement: Judgement) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO judgements(response_key, judge, label, raw, created_at) VALUES (?, ?, ?, ?, ?)",
            (judgement.response_key, judgement.judge, judgement.label.value, judgement.raw, time.time()),
        )

    def put_judgements(self, judgements: Iterable[Judgement]) -> None:
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO judgements(response_key, judge, label, raw, created_at) VALUES (?, ?, ?, ?, ?)",
                ((j.response_key, j.judge, j.label.value, j.raw, now) for j in judgements),
            )

    def judged_keys(self, judge: str) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT response_key FROM judgements WHERE judge = ?", (judge,))}

    def judgements(self, judge: str) -> dict[str, Judgement]:
        rows = self._db.execute("SELECT response_key, label, raw FROM judgements WHERE judge = ?", (judge,))
        return {key: Judgement(key, judge, Label(label), raw) for key, label, raw in rows}

    def judges(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT judge FROM judgements ORDER BY judge")]

    # -- numeric scores (toxicity, open-ended judge scores) ------------------------------------
    def put_scores(self, scorer: str, values: Iterable[tuple[str, float | None, str | None]]) -> None:
        """(response key, value or None when it could not be scored, raw output)."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO scores(response_key, scorer, value, raw, created_at) VALUES (?, ?, ?, ?, ?)",
                ((key, scorer, value, raw, time.time()) for key, value, raw in values),
            )

    def scores(self) -> dict[str, dict[str, float | None]]:
        """response key -> {scorer: value}."""
        out: dict[str, dict[str, float | None]] = {}
        for key, scorer, value in self._db.execute("SELECT response_key, scorer, value FROM scores"):
            out.setdefault(key, {})[scorer] = value
        return out

    def scored_keys(self, scorer: str) -> set[str]:
        """Keys with a value; a None is tried again next time."""
        rows = self._db.execute("SELECT response_key FROM scores WHERE scorer = ? AND value IS NOT NULL", (scorer,))
        return {row[0] for row in rows}

    # -- file hashes ------------------------------------------------------------------------
    def file_sha256(self, path: Path) -> str:
        """The hash of a (large) image file, recomputed only when its size or mtime changes."""
        from cares.data.records import file_sha256

        stat = path.stat()
        key = str(path.resolve())
        row = self._db.execute("SELECT size, mtime_ns, sha256 FROM file_hashes WHERE path = ?", (key,)).fetchone()
        if row is not None and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return str(row[2])
        digest = file_sha256(path)
        self._db.execute(
            "INSERT OR REPLACE INTO file_hashes(path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
            (key, stat.st_size, stat.st_mtime_ns, digest),
        )
        return digest

    # -- helpers ----------------------------------------------------------------------------
    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN")

        def __exit__(self, exc_type: object, *rest: object) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _transaction(self) -> RunStore._Tx:
        return RunStore._Tx(self._db)
