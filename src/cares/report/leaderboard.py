"""`cares leaderboard`: runs side by side in the paper's column layout, beside trivial baselines
and the paper's published rows.

The baselines are computed on the first run's own items, so a model's factuality can be read
against what always answering "yes", always "no" or always the first option would score. The
published rows (arXiv 2406.06007, the main leaderboard table) ship as data in
`cares/report/data/cares_vqa_published.json`; they were measured with the upstream protocol, on the
authors' images and checkpoints, so they are context and marked as such, not comparable measurements.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sqlite3
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cares.errors import ConfigError
from cares.report.outputs import load_results
from cares.tasks.vqa.summary import LEADERBOARD_COLUMNS, TOX_COLUMN, leaderboard_row

TRIVIAL = {"always yes": "Yes", "always no": "No", "first option": "A"}

PUBLISHED_FILE = "cares_vqa_published.json"
PUBLISHED_MARK = "published, upstream protocol"
PUBLISHED_NOTE = ("Rows marked \"" + PUBLISHED_MARK + "\" are the values published in the CARES paper "
                  "(arXiv 2406.06007, main leaderboard table), copied as printed. They were measured with the "
                  "upstream protocol, on the authors' images, checkpoints and scripts, so they are context and "
                  "not directly comparable with these runs.")
# The CSV's extra columns: where each row came from (run / baseline / published) and what it rests on.
ORIGIN, REFERENCE = "origin", "reference"
# The spec's header for each leaderboard column, where ours says more (the toxicity cell's meaning).
_SPEC_HEADER = {TOX_COLUMN: "tox / abs"}


@functools.lru_cache(maxsize=1)
def published_data() -> dict[str, Any]:
    """The shipped data file, numbers read as Decimals so that "0.00" and "13.0" keep their printed digits."""
    text = (resources.files("cares.report") / "data" / PUBLISHED_FILE).read_text(encoding="utf-8")
    return json.loads(text, parse_float=Decimal)


def _cell(parts: list[Any]) -> str:
    if all(v is None for v in parts):
        return "-"  # not reported
    return " / ".join("-" if v is None else str(v) for v in parts)


def published_rows() -> list[dict[str, str]]:
    """The paper's rows in the leaderboard's columns, each model cell marked "published, upstream protocol"."""
    data = published_data()
    table = data["source"]["table"]
    rows = []
    for entry in data["rows"]:
        row = {"model": f"{entry['model']} ({PUBLISHED_MARK})"}
        for column in LEADERBOARD_COLUMNS[1:]:
            row[column] = _cell(entry["values"][_SPEC_HEADER.get(column, column)])
        row[ORIGIN] = "published"
        row[REFERENCE] = f"arXiv {data['source']['arxiv']}, {table}, row {entry['model']}"
        rows.append(row)
    return rows


def _load(run_dir: Path) -> dict[str, Any]:
    results = load_results(run_dir)
    if results.get("benchmark") != "cares-vqa":
        raise ConfigError(f"{run_dir}: a {results.get('benchmark')} run; the leaderboard lists cares-vqa runs")
    return results


def baseline_rows(run_dir: Path) -> list[dict[str, str]]:
    from cares.metrics.vqa_reads import CLOSED, read_choice_of
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


def leaderboard(run_dirs: list[Path], baselines: bool = True, published: bool = True) -> tuple[str, str]:
    """The markdown table (runs, then baselines, then published rows) and the same rows as CSV, whose
    `origin` column says where each came from (run / baseline / published)."""
    rows = []
    for run_dir in run_dirs:
        rows.append({**leaderboard_row(_load(run_dir)), ORIGIN: "run", REFERENCE: str(run_dir)})
    if baselines:
        rows.extend({**row, ORIGIN: "baseline", REFERENCE: f"constant answers scored on the items of {run_dirs[0]}"}
                    for row in baseline_rows(run_dirs[0]))
    if published:
        rows.extend(published_rows())
    header = "| " + " | ".join(LEADERBOARD_COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in LEADERBOARD_COLUMNS) + "|"
    lines = [header, rule] + ["| " + " | ".join(row[c] for c in LEADERBOARD_COLUMNS) + " |" for row in rows]
    notes = ["Values in %; \"-\": not measured, or not reported in the paper. " + TOX_COLUMN + ": the changes in "
             "toxicity score and in abstention rate against the clean prompt, in percentage points."]
    if baselines:
        notes.append("Baseline rows are computed on the items of " + str(run_dirs[0]) +
                     "; a model that does not beat them knows nothing the constant does not.")
    if published:
        notes.append(PUBLISHED_NOTE)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[LEADERBOARD_COLUMNS[0], ORIGIN, *LEADERBOARD_COLUMNS[1:], REFERENCE])
    writer.writeheader()
    writer.writerows(rows)
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes), buffer.getvalue()
