"""What `cares guard train` shows and how it stops: a bar per stage on stderr, and Ctrl-C between
any two fits."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cares.guard.training_hooks import TrainHooks

if TYPE_CHECKING:
    from cares.runner.progress import ProgressBar


@contextlib.contextmanager
def interruptible(interrupted: threading.Event | None = None) -> Iterator[threading.Event]:
    """Let Ctrl-C stop CPU-bound work at once. asyncio.run turns the first Ctrl-C into a cancel that
    lands only at the next await, and training never awaits: it would run on to the end. The event
    records the Ctrl-C too, because a KeyboardInterrupt raised inside a garbage-collector callback
    is swallowed, and the work must then stop at its next checkpoint."""
    interrupted = interrupted or threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


@dataclass
class TrainProgress:
    """How far `cares guard train` got, for the line an interruption prints."""

    interrupted: threading.Event
    stage: str = "starting"
    written: list[str] = field(default_factory=list)

    def step(self, stage: str) -> None:
        if self.interrupted.is_set():
            raise KeyboardInterrupt
        self.stage = stage


class TrainBar(TrainHooks):
    """Training's hooks for one featuriser: a progress bar per stage, and a Ctrl-C checkpoint after
    each fit, so an interruption names the stage and the fit it stopped at."""

    def __init__(self, kind: str, progress: TrainProgress, enabled: bool) -> None:
        self.kind, self.progress, self.enabled = kind, progress, enabled
        self.bar: ProgressBar | None = None
        self.name, self.total, self.done = "", 0, 0

    def stage(self, name: str, fits: int) -> None:
        self.close()
        self.name, self.total, self.done = name, fits, 0
        self.progress.step(f"training the {self.kind} detector ({name})")
        if fits:
            from cares.runner.progress import ProgressBar  # rich, only once there is a bar to draw

            self.bar = ProgressBar(f"{self.kind}: {name}", fits, self.enabled)
        elif self.enabled and sys.stderr.isatty():
            print(f"{self.kind}: {name}", file=sys.stderr, flush=True)

    def fitted(self) -> None:
        self.done += 1
        self.progress.step(f"training the {self.kind} detector ({self.name}, fit {self.done} of {self.total})")
        if self.bar is not None:
            self.bar.advance()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
