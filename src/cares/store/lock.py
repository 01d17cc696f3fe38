"""One process at a time per run directory.

Two processes on one run store would each ask for every pending request (paying twice) and write
each other's results.json. The lock is `flock` on `run.lock` in the run directory, holding the PID
of its holder: the kernel releases it when the holder exits, however it exits (SIGKILL included),
so a stale lock file never blocks a resume. It is advisory, and, like SQLite's own locking, not
reliable on network file systems that do not implement flock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from cares.errors import ConfigError, unwritable
from cares.store.files import PRIVATE_FILE_MODE, make_run_dir

LOCK_NAME = "run.lock"

# Run directories this process holds, so that a second lock of one of them within the process
# (a stage re-entering the pipeline) nests instead of failing against itself.
_held: dict[Path, int] = {}


class RunDirBusy(ConfigError):
    """Another process holds the run directory."""


class RunDirLock:
    """`with RunDirLock(run_dir):` holds the run directory, or raises `RunDirBusy` at once, naming the holder."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._key = self.run_dir.resolve()
        self._fd: int | None = None
        self._nested = False

    def acquire(self) -> RunDirLock:
        if self._fd is not None or self._nested:
            return self
        if self._key in _held:
            self._nested = True  # the outer holder releases it
            return self
        make_run_dir(self.run_dir)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        except OSError as exc:
            raise unwritable(self.path, exc, "create the run lock") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise RunDirBusy(
                f"{self.run_dir} is in use by {who} (lock {self.path}); wait for it to finish, or stop it "
                "(its answers so far are saved) and run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _held[self._key] = fd
        return self

    def release(self) -> None:
        fd, self._fd, self._nested = self._fd, None, False
        if fd is None or _held.get(self._key) != fd:
            return
        del _held[self._key]
        # Emptied while still held, so that a reader never sees a PID that no longer holds it;
        # the file stays, since removing it could let two processes lock two different files.
        os.ftruncate(fd, 0)
        # Unlocked before closing: a flock belongs to the open file, which a forked child (the
        # judge's workers) may still share, and closing only this descriptor would keep it held.
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
