"""A finished run as reports read it: its results.json and its per-item rows from the run store.

The rows are joined with the judge that results.json was built with, so every per-item value a
report or comparison shows comes from the same judgements as the aggregate numbers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.report.outputs import collect_rows, load_results
from cares.store import RunStore
from cares.tasks.base import SampleRow

LABEL_JUDGED = ("cares-18k",)  # benchmarks whose answers carry a judge's Accept / Caution / Refuse label


@dataclass(frozen=True)
class LoadedRun:
    run_dir: Path
    results: dict[str, Any]
    rows: list[SampleRow]
    label: str | None = None  # set by distinct_labels when two runs of a report share a model name

    @property
    def name(self) -> str:
        """How the run is called on a page: its model, told apart from others of the same model."""
        return self.label or self.model

    @property
    def benchmark(self) -> str:
        return str(self.results.get("benchmark"))

    @property
    def model(self) -> str:
        return str((self.results.get("model") or {}).get("spec"))

    @property
    def judge(self) -> str:
        return str(self.results.get("judge"))

    @property
    def revision(self) -> str:
        return str((self.results.get("dataset") or {}).get("revision") or "unknown")


def load_run(run_dir: Path) -> LoadedRun:
    results = load_results(run_dir)
    benchmark = results.get("benchmark")
    if benchmark not in ("cares-18k", "cares-vqa"):
        raise ConfigError(f"{run_dir}/results.json: unknown benchmark {benchmark!r}")
    if not (run_dir / "run.sqlite").is_file():
        raise ConfigError(f"{run_dir}: no run.sqlite beside results.json; reports read items from the run store")
    judge = results.get("judge") if benchmark in LABEL_JUDGED else None
    try:
        with RunStore.in_dir(run_dir, read_only=True) as store:
            known = store.judges()
            if judge is not None and known and judge not in known:
                raise ConfigError(f"{run_dir}: results.json names judge {judge!r}, which the run store does not "
                                  f"hold; `cares export {run_dir}` rebuilds results.json")
            rows = collect_rows(store, judge)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{run_dir}/run.sqlite: not a readable run store ({exc})") from None
    return LoadedRun(run_dir, results, rows)


def distinct_labels(runs: list[LoadedRun]) -> list[LoadedRun]:
    """Runs of one model (judged twice, guarded or not, another dataset) get the judge, then the
    run directory's name, added to their label, so no two columns or legend entries read the same."""
    def clash(names: list[str]) -> set[str]:
        return {n for n in names if names.count(n) > 1}

    names = [r.model for r in runs]
    repeated = clash(names)
    names = [f"{n} · {r.judge}" if n in repeated else n for n, r in zip(names, runs)]
    repeated = clash(names)
    names = [f"{n} · {r.run_dir.name}" if n in repeated else n for n, r in zip(names, runs)]
    return [replace(r, label=n) if n != r.model else r for r, n in zip(runs, names)]
