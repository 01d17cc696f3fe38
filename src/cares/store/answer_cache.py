"""The shared answer cache: one SQLite file per user, so the same request is paid once in any run.

Answers are keyed by the request cache key the run store uses, which hashes the model identity
(provider, model, server or checkpoint fingerprint, a python/ callable's version or source hash),
the messages, image hashes and generation parameters. A key therefore names one request to one
model, wherever it was asked.

The run store stays the single source of truth for a run: an answer is committed there first and
offered to this cache after; an answer taken from here is copied into the run store before it
counts. Losing the cache (deleted, unwritable, damaged) costs money, never correctness, so every
problem with it is one warning and the run goes on without it.

What is shared: answers (never failures) to requests that are meant to be repeatable, those at
temperature 0 or with a model seed. Unseeded sampling at temperature > 0 is reused inside its own
run directory, as before, but a new run directory draws again, since repeated draws are then the
point. Baseline models cost nothing and are not cached.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cares.store.files import cache_root
from cares.store.runstore import RunStore
from cares.types import Request, Response, ResponseStatus, Usage

log = logging.getLogger(__name__)

ENV = "CARES_ANSWER_CACHE"  # a file path, or "off"
OFF_VALUES = frozenset({"off", "0", "no", "false", "none"})
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL, prompt_tokens INTEGER,
    completion_tokens INTEGER, finish_reason TEXT, meta TEXT, created_at REAL NOT NULL
);
"""


def default_path() -> Path | None:
    """Where the cache lives unless told otherwise: $CARES_ANSWER_CACHE, else answers.sqlite in the cares
    cache directory ($CARES_CACHE_DIR, else $XDG_CACHE_HOME/cares, else ~/.cache/cares). None when
    $CARES_ANSWER_CACHE says off."""
    given = os.environ.get(ENV, "").strip()
    if given.lower() in OFF_VALUES:
        return None
    if given:
        return Path(given).expanduser()
    return cache_root() / "answers.sqlite"


def shareable(request: Request, identity: dict[str, Any]) -> bool:
    """Whether an answer to `request` may serve other runs (see the module docstring)."""
    if identity.get("provider") == "baseline":
        return False
    return request.params.temperature == 0 or request.params.seed is not None


class AnswerCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fresh = not path.exists()
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            if fresh:
                # Model answers can be as private as the prompts: readable by this user only.
                os.chmod(path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                             (json.dumps(SCHEMA_VERSION),))
        except (OSError, sqlite3.Error) as exc:
            self._give_up(exc)

    @property
    def usable(self) -> bool:
        return self._db is not None

    def _give_up(self, exc: BaseException) -> None:
        log.warning("the shared answer cache %s cannot be used (%s); answers are not shared in this run "
                    "(--no-cache or %s=off turns it off, %s=PATH moves it)", self.path, exc, ENV, ENV)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def lookup(self, keys: Iterable[str]) -> dict[str, Response]:
        """The cached answers among `keys`, as responses ready for a run store (0 attempts: nothing was paid)."""
        wanted = list(keys)
        found: dict[str, Response] = {}
        if self._db is None or not wanted:
            return found
        query = ("SELECT key, model, text, prompt_tokens, completion_tokens, finish_reason, meta FROM answers "
                 "WHERE key IN ({})")
        try:
            for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
                chunk = wanted[start:start + 500]
                for key, model, text, pt, ct, finish, meta in self._db.execute(query.format(",".join("?" * len(chunk))),
                                                                                chunk):
                    found[key] = Response(key, model, ResponseStatus.OK, text, None, Usage(pt or 0, ct or 0), 0, 0.0,
                                          finish, None if meta is None else json.loads(meta))
        except (sqlite3.Error, ValueError) as exc:
            self._give_up(exc)
            return {}
        return found

    def put(self, response: Response) -> None:
        self.put_many([response])

    def put_many(self, responses: Iterable[Response]) -> None:
        """Add answers in one transaction (the run store offers each group commit's answers at once)."""
        if self._db is None:
            return
        rows = [(response.key, response.model, response.text, response.usage.prompt_tokens,
                 response.usage.completion_tokens, response.finish_reason,
                 None if response.meta is None else json.dumps(response.meta, sort_keys=True), time.time())
                for response in responses if response.ok and response.text is not None]
        if not rows:
            return
        try:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO answers(key, model, text, prompt_tokens, completion_tokens, finish_reason, "
                    "meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._give_up(exc)


def open_cache(enabled: bool, path: Path | None) -> AnswerCache | None:
    """The cache to use, or None when it is off (--no-cache, CARES_ANSWER_CACHE=off) or cannot be opened."""
    if not enabled:
        return None
    where = path if path is not None else default_path()
    if where is None:
        return None
    cache = AnswerCache(where)
    return cache if cache.usable else None


def reuse_cached(cache: AnswerCache | None, store: RunStore, pending: dict[str, Request],
                 identity: dict[str, Any]) -> dict[str, Request]:
    """Copy the cached answers to `pending` requests into the run store; return what is still to ask."""
    if cache is None:
        return pending
    candidates = [key for key, request in pending.items() if shareable(request, identity)]
    hits = cache.lookup(candidates)
    with store.grouped_commits():
        for key, response in hits.items():
            store.put_response(response, pending[key])
    return {key: request for key, request in pending.items() if key not in hits}


# Answers offered to the cache are added this many at a time: the cache is a copy, so a kill before
# they are added costs at most their price on a later run, never a result, and it saves a
# transaction per group commit of the run store.
OFFER_BATCH = 1024


@contextmanager
def offering_answers(cache: AnswerCache | None, store: RunStore, identity: dict[str, Any]) -> Iterator[None]:
    """While the block runs, every answer the run store commits is offered to the cache as well."""
    if cache is None:
        yield
        return
    waiting: list[Response] = []

    def offer(answers: list[tuple[Response, Request]]) -> None:
        waiting.extend(response for response, request in answers if shareable(request, identity))
        if len(waiting) >= OFFER_BATCH:
            cache.put_many(waiting)
            waiting.clear()

    store.on_answers = offer
    try:
        yield
    finally:
        try:
            store.flush()  # answers still waiting for their group commit are offered too
            cache.put_many(waiting)
        finally:
            store.on_answers = None
