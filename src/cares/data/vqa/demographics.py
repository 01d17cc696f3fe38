"""Joining patient demographics onto VQA records from a CSV, for files that do not carry them.

The Harvard-FairVLMed question file has no age, gender or race: they live in the source
dataset's metadata, keyed by the same index the question file calls ``question_id``. Write them
into a CSV with a header row:

- the key column, named ``question_id`` or ``image`` (matching `VQARecord.question_id`, or
  `VQARecord.image` exactly as the question file writes it);
- then any of ``age`` (years; a float is floored, "90+" is accepted), ``gender`` (male/female,
  M/F) and ``race`` (free text). Empty cells mean unknown.

Numeric question ids match regardless of leading zeros ("08731" is 8731), so an index taken
from a file name such as ``data_08731.npz`` can be written as is. A value the record already has
is kept; a CSV value that disagrees with it is counted as a conflict in the report, not applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cares.data.records import RawRecord, read_records
from cares.data.vqa.records import VQARecord, parse_age, parse_gender, parse_race, question_id_string
from cares.errors import ConfigError, InputError

JOIN_KEYS = ("question_id", "image")
DEMOGRAPHIC_COLUMNS = ("age", "gender", "race")


@dataclass(frozen=True)
class Demographics:
    age: int | None = None
    age_group: str | None = None
    gender: str | None = None
    race: str | None = None


@dataclass(frozen=True)
class JoinReport:
    csv_path: str
    key: str
    columns: tuple[str, ...]  # the demographic columns the CSV carries
    n_rows: int
    n_records: int
    matched: int  # records that found a CSV row
    unmatched: int  # records that found none (their demographics stay as they were)
    unused_rows: int  # CSV rows no record asked for
    filled: dict[str, int] = field(default_factory=dict)  # per column, values the join supplied
    conflicts: dict[str, int] = field(default_factory=dict)  # per column, CSV values that disagreed and were ignored

    def to_dict(self) -> dict[str, Any]:
        return {
            "csv_path": self.csv_path,
            "key": self.key,
            "columns": list(self.columns),
            "n_rows": self.n_rows,
            "n_records": self.n_records,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "unused_rows": self.unused_rows,
            "filled": dict(self.filled),
            "conflicts": dict(self.conflicts),
        }


def join_demographics(
    records: Sequence[VQARecord], csv_path: str | Path, key: str = "question_id"
) -> tuple[list[VQARecord], JoinReport]:
    """Fill age, age_group, gender and race from `csv_path` where the records lack them."""
    if key not in JOIN_KEYS:
        raise ConfigError(f"join key must be one of {', '.join(JOIN_KEYS)}, got {key!r}")
    path = Path(csv_path)
    rows = read_records(path)
    columns = _check_header(path, rows[0], key)
    table = _read_table(rows, key, columns)

    filled: Counter[str] = Counter()
    conflicts: Counter[str] = Counter()
    used: set[str] = set()
    joined: list[VQARecord] = []
    matched = 0
    for record in records:
        lookup = _canonical(key, record.question_id if key == "question_id" else record.image)
        found = table.get(lookup) if lookup is not None else None
        if lookup is None or found is None:
            joined.append(record)
            continue
        matched += 1
        used.add(lookup)
        joined.append(_merge(record, found, columns, filled, conflicts))
    report = JoinReport(
        csv_path=str(path),
        key=key,
        columns=columns,
        n_rows=len(table),
        n_records=len(records),
        matched=matched,
        unmatched=len(records) - matched,
        unused_rows=len(set(table) - used),
        filled={name: filled[name] for name in columns},
        conflicts={name: conflicts[name] for name in columns},
    )
    return joined, report


def _check_header(path: Path, first: RawRecord, key: str) -> tuple[str, ...]:
    names = [str(name).strip() for name in first.data]
    if key not in names:
        raise InputError(path, f"no '{key}' column; the columns are: {', '.join(names)}", line=1, field=key)
    columns = tuple(name for name in DEMOGRAPHIC_COLUMNS if name in names)
    if not columns:
        raise InputError(path, f"no demographic column; give at least one of {', '.join(DEMOGRAPHIC_COLUMNS)}", line=1)
    return columns


def _read_table(rows: list[RawRecord], key: str, columns: tuple[str, ...]) -> dict[str, Demographics]:
    table: dict[str, Demographics] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        data = {str(name).strip(): value for name, value in row.data.items()}
        try:
            lookup = _canonical(key, data.get(key))
        except ValueError as exc:
            raise row.error(str(exc), key) from None
        if lookup is None:
            raise row.error("is empty", key)
        if lookup in first_line:
            raise row.error(f"duplicate key {lookup!r} (first on line {first_line[lookup]})", key)
        first_line[lookup] = row.line
        table[lookup] = _parse_row(row, data, columns)
    return table


def _parse_row(row: RawRecord, data: dict[str, Any], columns: tuple[str, ...]) -> Demographics:
    age, group, gender, race = None, None, None, None
    try:
        if "age" in columns:
            age, group = parse_age(data.get("age"))
    except ValueError as exc:
        raise row.error(str(exc), "age") from None
    try:
        if "gender" in columns:
            gender = parse_gender(data.get("gender"))
    except ValueError as exc:
        raise row.error(str(exc), "gender") from None
    try:
        if "race" in columns:
            race = parse_race(data.get("race"))
    except ValueError as exc:
        raise row.error(str(exc), "race") from None
    return Demographics(age, group, gender, race)


def _canonical(key: str, value: object) -> str | None:
    text = question_id_string(value)
    if text is None:
        return None
    if key == "question_id" and text.isdigit():
        return str(int(text))
    return text


def _merge(
    record: VQARecord,
    found: Demographics,
    columns: tuple[str, ...],
    filled: Counter[str],
    conflicts: Counter[str],
) -> VQARecord:
    changes: dict[str, Any] = {}
    if "age" in columns and found.age_group is not None:
        if record.age_group is None:
            changes.update(age=found.age, age_group=found.age_group)
            filled["age"] += 1
        elif (record.age, record.age_group) != (found.age, found.age_group):
            conflicts["age"] += 1
    for name in ("gender", "race"):
        value = getattr(found, name)
        if name not in columns or value is None:
            continue
        if getattr(record, name) is None:
            changes[name] = value
            filled[name] += 1
        elif getattr(record, name) != value:
            conflicts[name] += 1
    return replace(record, **changes) if changes else record
