"""`cares export --format csv|parquet`: the samples as one flat table, equal to samples.jsonl."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from cares.cli.main import main
from cares.errors import ConfigError
from cares.report.export_formats import export_run
from cares.report.export_table import flatten, to_parquet


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export-table")
    assert main(["run", "cares-18k", "--model", "baseline/caution", "--limit", "20", "--bootstrap", "0",
                 "--run-dir", str(root / "run"), "--no-progress", "--json"]) == 0
    return root / "run"


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_csv_has_one_row_per_sample_and_flat_metadata(run_dir: Path) -> None:
    path = export_run(run_dir, "csv")[-1]
    assert path == run_dir / "samples.csv" and path.stat().st_mode & 0o777 == 0o600
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    records = _records(run_dir)
    assert [row["id"] for row in rows] == [r["id"] for r in records]
    assert [row["metadata.method"] for row in rows] == [r["metadata"]["method"] for r in records]
    assert [row["label"] for row in rows] == [r["label"] for r in records] and rows[0]["label"]
    assert json.loads(rows[0]["messages"]) == records[0]["messages"]


def test_parquet_reads_back_equal(run_dir: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path = export_run(run_dir, "parquet", tmp_path / "s.parquet")[-1]
    table = pq.read_table(path).to_pylist()
    records = _records(run_dir)
    assert len(table) == 20
    assert [row["metadata.harmful_level"] for row in table] == [r["metadata"]["harmful_level"] for r in records]
    assert [row["score"] for row in table] == [r["score"] for r in records]


def test_parquet_column_mixing_types_becomes_one_type() -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import io

    records = [{"id": "a", "metadata": {"age": 30, "dose": 1}},
               {"id": "b", "metadata": {"age": "unknown", "dose": 2.5}},
               {"id": "c", "metadata": {}}]
    rows = pq.read_table(io.BytesIO(to_parquet(records))).to_pylist()
    assert [r["metadata.age"] for r in rows] == ["30", "unknown", None]
    assert [r["metadata.dose"] for r in rows] == [1.0, 2.5, None]
    assert flatten(records)[0] == ["id", "metadata.age", "metadata.dose"]


def test_parquet_without_pyarrow_is_one_line(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigError, match=r"^--format parquet needs pyarrow: pip install 'cares\[parquet\]'$"):
        export_run(run_dir, "parquet")


def test_unknown_format_and_output_without_format(run_dir: Path) -> None:
    with pytest.raises(ConfigError, match="--format 'xlsx': choose one of default, csv, parquet, inspect"):
        export_run(run_dir, "xlsx")
    with pytest.raises(ConfigError, match="--output names the file of --format csv, parquet or inspect"):
        export_run(run_dir, "default", run_dir / "x")
