"""Samples as one flat table, CSV or parquet: one row per request, one column per field.

Metadata fields become `metadata.<name>` columns and usage counts `usage.<name>`, so that a
spreadsheet or a dataframe can filter by style, harm level or source without parsing JSON;
lists and nested objects (messages, images, generation settings) stay JSON text in their cell.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from cares.errors import ConfigError
from cares.report.outputs import write_atomic

PARQUET_MISSING = "--format parquet needs pyarrow: pip install 'cares[parquet]'"
# Nested fields flattened one level into their own columns.
_FLATTENED = ("metadata", "usage")


def require_pyarrow() -> Any:
    """pyarrow's parquet module, or a one-line error naming the extra to install."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(PARQUET_MISSING) from None
    return pq


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def flatten(records: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The column names, in first-seen order, and one flat row per record."""
    columns: dict[str, None] = {}
    rows = []
    for record in records:
        row: dict[str, Any] = {}
        for key, value in record.items():
            if key in _FLATTENED and isinstance(value, dict):
                for sub, inner in value.items():
                    row[f"{key}.{sub}"] = _cell(inner)
            else:
                row[key] = _cell(value)
        for key in row:
            columns.setdefault(key, None)
        rows.append(row)
    return list(columns), rows


def _column_values(rows: list[dict[str, Any]], column: str) -> list[Any]:
    """One column with a single type, as parquet needs: integers that meet floats become floats,
    and a column mixing text with numbers (a metadata field some items give as text) becomes text."""
    values = [row.get(column) for row in rows]
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and float in kinds:
        return [None if v is None else float(v) for v in values]
    if len(kinds) > 1:
        return [None if v is None else str(v) for v in values]
    return values


def to_csv(records: list[dict[str, Any]]) -> str:
    columns, rows = flatten(records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_parquet(records: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa

    pq = require_pyarrow()
    columns, rows = flatten(records)
    table = pa.table({column: pa.array(_column_values(rows, column)) for column in columns})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_table(records: list[dict[str, Any]], path: Path, fmt: str) -> Path:
    """Write the samples as `fmt` (csv or parquet), atomically and private to the owner."""
    if fmt == "csv":
        write_atomic(path, to_csv(records))
    elif fmt == "parquet":
        write_atomic(path, to_parquet(records))
    else:
        raise ConfigError(f"not a table format: {fmt!r}; use csv or parquet")
    return path
