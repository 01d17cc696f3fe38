"""`cares leaderboard`: runs side by side in the paper's column layout, beside trivial baselines.

The baselines are computed on the first run's own items, so a model's factuality can be read
against what always answering "yes", always "no" or always the first option would score.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from cares.errors import ConfigError
from cares.report.outputs import load_results
from cares.tasks.vqa.summary import LEADERBOARD_COLUMNS, leaderboard_row

TRIVIAL = {"always yes": "Yes", "always no": "No", "first option": "A"}


def _load(run_dir: Path) -> dict[str, Any]:
    results = load_results(run_dir)
    if results.get("benchmark") != "cares-vqa":
        raise ConfigError(f"{run_dir}: a {results.get('benchmark')} run; the leaderboard lists cares-vqa runs")
    return results


def baseline_rows(run_dir: Path) -> list[dict[str, str]]:
    from cares.metrics.vqa import CLOSED, read_choice_of
    from cares.store import RunStore

    try:
        with RunStore.in_dir(run_dir, read_only=True) as store:
            items = [i for i in store.items() if i.metadata.get("answer_type") in CLOSED
                     and not i.metadata.get("ambiguous") and i.metadata.get("truth") is not None]
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{run_dir}/run.sqlite: not a readable run store ({exc})") from None
    rows = []
    for name, answer in TRIVIAL.items():
        first = answer == "A"
        hits = []
        for item in items:
            text = "yes" if first and item.metadata.get("answer_type") == "yesno" else answer
            hits.append(read_choice_of(item.metadata, text) == item.metadata["truth"])
        row = dict.fromkeys(LEADERBOARD_COLUMNS, "-")
        row["model"] = f"baseline: {name}"
        row["factuality"] = f"{100 * float(np.mean(hits)):.1f}" if hits else "-"
        rows.append(row)
    return rows


def leaderboard(run_dirs: list[Path], baselines: bool = True) -> tuple[str, str]:
    rows = [leaderboard_row(_load(run_dir)) for run_dir in run_dirs]
    if baselines:
        rows.extend(baseline_rows(run_dirs[0]))
    header = "| " + " | ".join(LEADERBOARD_COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in LEADERBOARD_COLUMNS) + "|"
    lines = [header, rule] + ["| " + " | ".join(row[c] for c in LEADERBOARD_COLUMNS) + " |" for row in rows]
    note = ("\nValues in %. Baseline rows are computed on the items of " + str(run_dirs[0]) +
            "; a model that does not beat them knows nothing the constant does not.") if baselines else ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(LEADERBOARD_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return "\n".join(lines) + note, buffer.getvalue()
