"""Progress with an ETA on stderr, quiet when asked or when nobody is watching."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ProgressBar:
    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self._progress: Progress | None = None
        self._plain = enabled and not sys.stderr.isatty()
        self._label, self._total, self._done = label, total, 0
        self._last_print = time.monotonic()
        self._start = time.monotonic()
        if enabled and not self._plain and total:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task(label, total=total)
            self._progress.start()

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self._progress is not None:
            self._progress.advance(self._task, n)
        elif self._plain and time.monotonic() - self._last_print > 10:
            # Logs (CI, nohup) get a line every ten seconds instead of a redrawn bar.
            self._last_print = time.monotonic()
            rate = self._done / max(1e-9, self._last_print - self._start)
            eta = (self._total - self._done) / rate if rate else float("inf")
            print(f"{self._label}: {self._done}/{self._total}, eta {eta:.0f}s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
