"""Readying the stages after generation while the requests are in flight.

A run needs neither its judge's weights nor the metrics, results and export modules to start asking,
so the pipeline does not import them before the first request. Once the requests are out the
process mostly waits on the network: a background thread imports those modules then, loads the
rules judge's weights and does what of the metrics needs no answer (the bootstrap's draws), so that
their cost overlaps the waiting instead of following the last answer.

Then, with an offline judge (the rules judge), the thread judges the answers already stored while
the rest are still awaited: it reads them through its own connection to the run store and stores
their judgements, which the judging stage then finds done, as it finds a resumed run's. A run that
waits on the network thus ends with a few answers to judge, not all of them.

Nothing depends on it: each later stage imports what it uses as usual (an import already done is a
dictionary lookup), and judges what is not judged yet, so a failure here only means that the stage
does that work itself.
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cares.tasks.base import Task

_log = logging.getLogger(__name__)

# What judging, the metrics, results.json, samples.jsonl and the summary table import first.
LATER_MODULES = (
    "cares.runner.judging",
    "cares.judges.calibration",
    "cares.metrics.safety",
    "cares.metrics.judge_calibration",
    "cares.report.outputs",
    "cares.results.build",
    "cares.runner.result",
    "rich.console",
    "rich.table",
)


# How long the thread lets the first requests go out before it competes with them for the GIL.
FIRST_REQUESTS_S = 0.1
# At most this many answers a poll are judged while asking (a few ms of the GIL at a time); more than
# that arriving between two polls means the process is busy asking, and they are left for after.
AHEAD_BATCH = 256
AHEAD_POLL_S = 0.2


class Warming:
    """The warming thread; `join` before the stages it readies."""

    def __init__(self, judge: Any, task: Task, groups: list[str], resamples: int, seed: int,
                 store_path: Path | None = None) -> None:
        self._done_asking = threading.Event()
        self.judged_ahead = 0  # answers judged and stored while the run was still asking
        self._thread = threading.Thread(target=self._run, args=(judge, task, groups, resamples, seed, store_path),
                                        name="cares-warm", daemon=True)
        self._thread.start()

    def _run(self, judge: Any, task: Task, groups: list[str], resamples: int, seed: int,
             store_path: Path | None) -> None:
        # Sending the first requests is the one busy moment of the request phase: let it pass, unless
        # the requests are all answered before (a small or cached run), which is when it is needed.
        self._done_asking.wait(FIRST_REQUESTS_S)
        _warm(judge, task, groups, resamples, seed)
        from cares.judges.base import OfflineJudge

        if store_path is not None and isinstance(judge, OfflineJudge):
            try:
                self._judge_ahead(judge, store_path)
            except Exception as exc:  # noqa: BLE001 - never fatal: the judging stage judges what is left
                _log.debug("judging while asking stopped: %s: %s", type(exc).__name__, exc)

    def _judge_ahead(self, judge: Any, store_path: Path) -> None:
        """Judge the stored answers, a batch at a time, until the run stops asking."""
        from cares.store import RunStore
        from cares.types import Judgement

        with RunStore(store_path) as store:
            last = 0
            while not self._done_asking.is_set():
                newest = store.latest_answer_row()
                if newest - last >= AHEAD_BATCH:
                    # Answers pour in faster than one batch a poll (a fast local server): the process
                    # is busy asking, and judging now would slow it. The judging stage takes them
                    # after, on every core; this thread skips to the newest and looks again later.
                    last = newest
                elif rows := store.answers_after(last, AHEAD_BATCH):
                    last = rows[-1][0]
                    fresh = {key: (prompt, text) for _, key, prompt, text in rows}
                    verdicts = judge.judge_many(list(fresh.values()))
                    store.put_judgements(Judgement(key, judge.id, verdict.label, verdict.raw)
                                         for key, verdict in zip(fresh, verdicts))
                    self.judged_ahead += len(fresh)
                self._done_asking.wait(AHEAD_POLL_S)

    def join(self) -> None:
        """Wait for the warming to finish: usually long done; else what is left is work the next
        stages would do anyway, and no module is then imported by two threads at once."""
        self._done_asking.set()
        self._thread.join()


def _warm(judge: Any, task: Task, groups: list[str], resamples: int, seed: int) -> None:
    try:
        for name in LATER_MODULES:
            importlib.import_module(name)
        from cares.judges.rules import RulesJudge

        if isinstance(judge, RulesJudge):
            from cares.judges.lexical import shipped

            shipped()  # cached: the judge's first batch reads the same object
        task.ready_metrics(groups, resamples, seed)
    except Exception as exc:  # noqa: BLE001 - never fatal: the stage itself imports and reports it
        _log.debug("warming the later stages failed: %s: %s", type(exc).__name__, exc)


def warm_later_stages(judge: Any, task: Task, groups: list[str], resamples: int, seed: int,
                      store_path: Path | None = None) -> Warming:
    """Start readying judging, metrics (`Task.ready_metrics` with every item's cluster) and exports
    in a daemon thread, once the first requests are out; then, given the run store's path, judge
    the answers stored while the rest are awaited."""
    return Warming(judge, task, groups, resamples, seed, store_path)
