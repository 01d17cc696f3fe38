"""`cares export`: one run store, several file formats.

Every format is derived from `run.sqlite` alone. The run's aggregate and sample lines are rebuilt
first, exactly as the default export does, and each other format is a view of those lines, so
a CSV, a parquet file and an Inspect AI log of one run never disagree with its samples.jsonl.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.errors import ConfigError

# `default` is what `cares export` always wrote: results.json and samples.jsonl in the run directory.
FORMATS = ("default", "csv", "parquet", "inspect")
DEFAULT_NAMES = {"csv": "samples.csv", "parquet": "samples.parquet", "inspect": "inspect.eval"}


@dataclass(frozen=True)
class ExportedRun:
    """A run as exported: its results.json content and its samples.jsonl records, in order."""

    run_dir: Path
    results: dict[str, Any]
    records: list[dict[str, Any]]


def rebuild(run_dir: Path, judge_id: str | None = None) -> ExportedRun:
    """Rebuild results.json and samples.jsonl from the store, and return what they hold."""
    from cares.runner.pipeline import export

    result = export(run_dir, judge_id)
    with result.samples_path.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return ExportedRun(run_dir, result.results, records)


def export_run(run_dir: Path, fmt: str = "default", output: Path | None = None,
               judge_id: str | None = None) -> list[Path]:
    """Write the run in `fmt`; returns the files written (results.json and samples.jsonl come first)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "default" and output is not None:
        raise ConfigError("--output names the file of --format csv, parquet or inspect; the default export "
                          "writes results.json and samples.jsonl in the run directory")
    # Fail on a missing optional package or a bad name before any file is rewritten.
    if fmt == "inspect" and output is not None and output.suffix not in (".eval", ".json"):
        raise ConfigError(f"--output {output}: an Inspect log is named .eval or .json")
    if fmt == "parquet":
        from cares.report.export_table import require_pyarrow

        require_pyarrow()
    elif fmt == "inspect":
        from cares.report.export_inspect import require_inspect

        require_inspect()
    run = rebuild(run_dir, judge_id)
    written = [run_dir / "results.json", run_dir / "samples.jsonl"]
    if fmt == "default":
        return written
    target = output if output is not None else run_dir / DEFAULT_NAMES[fmt]
    if fmt == "inspect":
        from cares.report.export_inspect import write_inspect_log

        write_inspect_log(run, target)
    else:
        from cares.report.export_table import write_table

        write_table(run.records, target, fmt)
    return [*written, target]
