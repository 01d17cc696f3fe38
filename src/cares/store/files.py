"""The permission policy for the files of a run.

Every file cares writes into a run directory (run.sqlite and its -wal and -shm files, run.lock,
results.json, samples.jsonl) is private to its owner, mode 0600, and a run directory that cares
creates is 0700: they hold prompts and answers, which may be patient data. The folders above a run
directory (runs/, runs/cares-18k/) follow the umask. To share a run, copy its results.json or
export a report (docs/design.md, "Files and permissions").
"""

from __future__ import annotations

import os
from pathlib import Path

from cares.errors import unwritable

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def make_run_dir(run_dir: Path) -> None:
    """Create `run_dir` private to its owner (its parents as the umask says); an existing one is left as is."""
    if run_dir.is_dir():
        return
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise unwritable(run_dir, exc, "create the run directory") from None


def private_sqlite_file(path: Path) -> None:
    """Create a SQLite file 0600 before SQLite does, or bring an existing one and its -wal and -shm files to
    0600. SQLite creates new databases 0644 and gives its -wal and -shm files the database's mode."""
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
        except FileExistsError:
            pass  # another process created it first; it is brought to 0600 below
        else:
            return
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if name.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
                name.chmod(PRIVATE_FILE_MODE)
        except OSError:
            pass  # not ours to change (another owner, a read-only file system): opening it says what is wrong


def cache_root() -> Path:
    """The cares cache directory: $CARES_CACHE_DIR, else $XDG_CACHE_HOME/cares, else ~/.cache/cares."""
    cares_dir = os.environ.get("CARES_CACHE_DIR", "").strip()
    if cares_dir:
        return Path(cares_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "cares"
