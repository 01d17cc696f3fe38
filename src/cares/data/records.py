"""Reading raw records from JSONL, CSV and parquet files, each tagged with its line or row.

Locating every record lets validation errors name the exact place to fix.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cares.errors import ConfigError, InputError


@dataclass(frozen=True)
class RawRecord:
    data: dict[str, Any]
    path: str
    line: int
    unit: str = "line"  # "line" for text files, "row" for parquet and hub datasets

    def error(self, message: str, field: str | None = None) -> InputError:
        return InputError(self.path, message, line=self.line, field=field, unit=self.unit)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_records(path: Path) -> list[RawRecord]:
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".pq"):
        raise InputError(path, f"unknown file type '{suffix}'; use .jsonl, .csv or .parquet")
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory; give a .jsonl, .csv or .parquet file")
    if suffix in (".jsonl", ".ndjson", ".json"):
        records = list(_read_jsonl(path))
    elif suffix == ".csv":
        records = list(_read_csv(path))
    else:
        records = _read_parquet(path)
    if not records:
        raise InputError(path, "file is empty: no records found")
    return records


def read_utf8(path: Path) -> str:
    """The whole file as text; bytes that are not UTF-8 are an error naming their line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(path, f"not UTF-8 text (byte {column} of the line)", line=line) from None


def _read_jsonl(path: Path) -> Iterator[RawRecord]:
    # splitlines() would also split at U+2028 and friends, which JSON strings may hold raw.
    for number, line in enumerate(read_utf8(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", line=number) from None
        if not isinstance(data, dict):
            raise InputError(path, f"expected a JSON object, got {type(data).__name__}", line=number)
        yield RawRecord(data, str(path), number)


def _read_csv(path: Path) -> Iterator[RawRecord]:
    reader = csv.DictReader(io.StringIO(read_utf8(path), newline=""))
    if reader.fieldnames is None:
        return
    for row in reader:
        if None in row:
            raise InputError(path, "more values than header columns", line=reader.line_num)
        if not any((value or "").strip() for value in row.values()):
            continue
        yield RawRecord(dict(row), str(path), reader.line_num)


def _read_parquet(path: Path) -> list[RawRecord]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("reading parquet needs pyarrow: pip install 'cares[parquet]'") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise InputError(path, f"not a readable parquet file ({exc})") from None
    return [RawRecord(row, str(path), index, unit="row") for index, row in enumerate(rows, start=1)]
