"""Reading raw records from JSONL, CSV and parquet files, each tagged with its line or row.

Locating every record lets validation errors name the exact place to fix.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
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


def json_problem(exc: json.JSONDecodeError) -> str:
    """`exc` as 'not valid JSON (Expecting value at column 3)'. Some of json's messages end in 'at'
    ('Unterminated string starting at'), which would read 'starting at at column'."""
    message = re.sub(r"\s+(starting\s+)?at$", "", exc.msg)
    return f"not valid JSON ({message} at column {exc.colno})"


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json_line(text: str, path: str | Path, line: int) -> Any:
    """One line of JSON, or an InputError naming the file and line: bad syntax, nesting deeper than
    the parser's recursion limit, or a string holding a lone UTF-16 surrogate ("\\ud800" is valid
    JSON but no text: it cannot be stored or sent)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, json_problem(exc), line=line) from None
    except RecursionError:
        raise InputError(path, "not valid input: JSON nested too deeply", line=line) from None
    # A surrogate can only come from a \uD800-\uDFFF escape (the text itself is checked UTF-8), so
    # a line without one needs no walk through its values.
    where = lone_surrogate(data) if _SURROGATE_ESCAPE.search(text) else None
    if where is not None:
        field, column = where
        if field is not None:  # a key may hold the surrogate: named escaped, as it cannot be printed
            field = field.encode("utf-8", "backslashreplace").decode("utf-8")
        raise InputError(path, f"holds a lone UTF-16 surrogate (\\u{column:04x}), which is not text; "
                               "write the character itself or its surrogate pair", line=line, field=field)
    return data


def lone_surrogate(data: Any) -> tuple[str | None, int] | None:
    """(field path, code point) of the first string or key holding an unpaired surrogate, else None.
    Iterative, since the data may be nested nearly as deep as the parser allows."""
    stack: list[tuple[str | None, Any]] = [(None, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                name = key if where is None else f"{where}.{key}"
                found = _surrogate_in(key)
                if found is not None:
                    return name, found
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{where or ''}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str):
            found = _surrogate_in(value)
            if found is not None:
                return where, found
    return None


def _surrogate_in(text: str) -> int | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return ord(text[exc.start])
    return None


def _read_jsonl(path: Path) -> Iterator[RawRecord]:
    # splitlines() would also split at U+2028 and friends, which JSON strings may hold raw.
    for number, line in enumerate(read_utf8(path).split("\n"), start=1):
        if not line.strip():
            continue
        data = parse_json_line(line, path, number)
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
