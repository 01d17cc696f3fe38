"""SQLite failures of a store file as one-line errors naming that file.

A damaged, read-only or locked store raises `sqlite3.DatabaseError` from wherever it is first
touched, which names no file. Connections made with `NamedConnection` turn those errors into an
`InputError` naming the store and saying what to do. Programming errors (`ProgrammingError`,
`InterfaceError`) pass through unchanged, so bugs stay visible.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cares.errors import InputError


def store_error(path: Path, exc: sqlite3.DatabaseError) -> InputError:
    message = " ".join(str(exc).split()) or type(exc).__name__  # quick_check reports span lines
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered:
        advice = "cannot write the run store; check the permissions of the file and of its folder"
    elif "locked" in lowered or "busy" in lowered:
        advice = "the run store is locked by another process; wait for it to finish"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        advice = ("damaged run store; results.json and samples.jsonl beside it may be stale. Restore it from a "
                  "backup, or start again in a new run directory")
    elif "no such table" in lowered or "no such column" in lowered:
        advice = "not a cares run store, or one from an incompatible version"
    else:
        advice = "cannot use the run store"
    return InputError(path, f"{advice} (sqlite: {message})")


def _translated(exc: sqlite3.DatabaseError) -> bool:
    return not isinstance(exc, sqlite3.ProgrammingError)


class NamedCursor(sqlite3.Cursor):
    store_path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> NamedCursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.DatabaseError as exc:
            if not _translated(exc):
                raise
            raise store_error(self.store_path, exc) from None

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> NamedCursor:
        try:
            return super().executemany(sql, seq_of_parameters)
        except sqlite3.DatabaseError as exc:
            if not _translated(exc):
                raise
            raise store_error(self.store_path, exc) from None

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.DatabaseError as exc:
            if not _translated(exc):
                raise
            raise store_error(self.store_path, exc) from None

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as exc:
            if not _translated(exc):
                raise
            raise store_error(self.store_path, exc) from None

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as exc:
            if not _translated(exc):
                raise
            raise store_error(self.store_path, exc) from None


class NamedConnection(sqlite3.Connection):
    """`sqlite3.connect(path, factory=NamedConnection)`, then `name(path)`: errors then name `path`."""

    store_path: Path = Path("run.sqlite")

    def name(self, path: Path) -> NamedConnection:
        self.store_path = path
        return self

    # Always the named cursor: `factory` is accepted for the signature's sake and not used.
    def cursor(self, factory: Any = None) -> NamedCursor:  # type: ignore[override]
        cursor = super().cursor(NamedCursor)
        cursor.store_path = self.store_path
        return cursor

    def execute(self, sql: str, parameters: Any = (), /) -> NamedCursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> NamedCursor:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(script)
        except sqlite3.DatabaseError as exc:
            if not _translated(exc):
                raise
            raise store_error(self.store_path, exc) from None

    def close(self) -> None:
        try:
            super().close()
        except sqlite3.DatabaseError as exc:
            if not _translated(exc):
                raise
            raise store_error(self.store_path, exc) from None


def verify_store(path: Path) -> None:
    """Raise the one-line error for a store SQLite finds damaged (a page-level check, no full scan of indexes).

    For readers that would otherwise show what was exported from the store before it was damaged."""
    try:
        db = sqlite3.connect(path, isolation_level=None, factory=NamedConnection).name(path)
    except sqlite3.Error as exc:
        raise store_error(path, sqlite3.DatabaseError(str(exc))) from None
    try:
        verdict = db.execute("PRAGMA quick_check(1)").fetchone()
        if verdict is None or verdict[0] != "ok":
            found = verdict[0] if verdict is not None else "no answer"
            raise store_error(path, sqlite3.DatabaseError(f"database disk image is malformed: {found}"))
    finally:
        db.close()
