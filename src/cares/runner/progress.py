"""Progress with an ETA on stderr, quiet when asked or when nobody is watching."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

# How often the bar is redrawn; answers arriving in between are only counted, so that thousands of
# answers a second cost a counter each rather than a redraw each.
_REDRAW_S = 0.1


class ProgressBar:
    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self._progress: Progress | None = None
        self._plain = enabled and not sys.stderr.isatty()
        self._label, self._total, self._done = label, total, 0
        self._shown = 0  # what the bar shows; _done runs ahead of it between redraws
        self._last_print = time.monotonic()
        self._last_draw = 0.0
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
        if self._progress is None and not self._plain:
            return
        now = time.monotonic()
        if self._progress is not None:
            if now - self._last_draw >= _REDRAW_S or self._done >= self._total:
                self._last_draw = now
                self._progress.advance(self._task, self._done - self._shown)
                self._shown = self._done
        elif now - self._last_print > 10:
            # Logs (CI, nohup) get a line every ten seconds instead of a redrawn bar.
            self._last_print = time.monotonic()
            rate = self._done / max(1e-9, self._last_print - self._start)
            eta = (self._total - self._done) / rate if rate else float("inf")
            print(f"{self._label}: {self._done}/{self._total}, eta {eta:.0f}s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, self._done - self._shown)
            self._shown = self._done
            self._progress.stop()
