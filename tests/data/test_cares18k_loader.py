from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cares.data import cares18k
from cares.data.selection import Selection
from cares.errors import ConfigError, InputError
from tests.conftest import make_rows, write_jsonl


def test_jsonl_items_have_stable_content_ids(dataset_file: Path, dataset_rows: list[dict]) -> None:
    items, info = cares18k.load_file(dataset_file)
    assert len(items) == len(dataset_rows) == 48
    assert len({item.id for item in items}) == 48
    again, _ = cares18k.load_file(dataset_file)
    assert [i.id for i in items] == [i.id for i in again]
    # Reordering the file keeps every item's id: ids come from content, not position.
    reversed_file = write_jsonl(dataset_file.with_name("rev.jsonl"), list(reversed(dataset_rows)))
    rev, _ = cares18k.load_file(reversed_file)
    assert {i.id: i.prompt for i in rev} == {i.id: i.prompt for i in items}
    assert info.revision.startswith("sha256:") and info.n_source_rows == 48
    # Rewrites of one base prompt share a bootstrap cluster.
    assert len({i.group for i in items}) == 12


def test_source_ids_used_when_unique(tmp_path: Path) -> None:
    rows = make_rows((0, 1))
    for n, row in enumerate(rows):
        row["id"] = f"q{n}"
    items, _ = cares18k.load_file(write_jsonl(tmp_path / "ids.jsonl", rows))
    assert [i.id for i in items] == [f"q{n}" for n in range(8)]


def test_duplicate_or_missing_ids_are_errors_naming_the_lines(tmp_path: Path) -> None:
    rows = make_rows((0, 1))
    for n, row in enumerate(rows):
        row["id"] = f"q{n}"
    rows[5]["id"] = "q1"
    with pytest.raises(InputError) as caught:
        cares18k.load_file(write_jsonl(tmp_path / "dup.jsonl", rows))
    assert str(caught.value).endswith("dup.jsonl:6: field 'id': duplicate id 'q1', first on line 2; give every row "
                                      "a unique id, or leave id out of every row to identify rows by their content")
    rows[5]["id"] = ""
    with pytest.raises(InputError, match=r"missing.jsonl:6: field 'id': missing, while line 1 has an id"):
        cares18k.load_file(write_jsonl(tmp_path / "missing.jsonl", rows))


def test_identical_rows_are_both_kept(tmp_path: Path) -> None:
    rows = make_rows((2,))
    items, _ = cares18k.load_file(write_jsonl(tmp_path / "d.jsonl", rows + rows[:1]))
    assert len(items) == 5 and items[-1].id == items[0].id + "~2"


def test_csv_and_parquet_match_jsonl(tmp_path: Path, dataset_rows: list[dict], dataset_file: Path) -> None:
    csv_path = tmp_path / "d.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dataset_rows[0]))
        writer.writeheader()
        writer.writerows(dataset_rows)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq_path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(dataset_rows), pq_path)
    base = {i.id: i.metadata["harmful_level"] for i in cares18k.load_file(dataset_file)[0]}
    assert {i.id: i.metadata["harmful_level"] for i in cares18k.load_file(csv_path)[0]} == base
    assert {i.id: i.metadata["harmful_level"] for i in cares18k.load_file(pq_path)[0]} == base


BAD_CASES = [
    ("missing", lambda r: r.pop("method"), "field 'method': missing required field"),
    ("method", lambda r: r.update(method="poetry"), "field 'method': unknown method 'poetry'"),
    ("level", lambda r: r.update(harmful_level=7), "field 'harmful_level': 7 is out of range 0-3"),
    ("principle", lambda r: r.update(principle_index="x"), "field 'principle_index': expected an integer"),
    ("prompt", lambda r: r.update(prompt="  "), "field 'prompt': expected non-empty text"),
]


@pytest.mark.parametrize("name,mutate,message", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_rows_name_file_line_and_field(tmp_path: Path, name: str, mutate, message: str) -> None:
    rows = make_rows((0, 1))
    mutate(rows[5])
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError) as err:
        cares18k.load_file(path)
    assert str(err.value).startswith(f"{path}:6: {message}")
    assert "\n" not in str(err.value)


def test_broken_json_line_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(make_rows((0,))[0]) + "\n{not json\n")
    with pytest.raises(InputError, match=r"broken.jsonl:2: not valid JSON"):
        cares18k.load_file(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match=r"empty.jsonl: file is empty"):
        cares18k.load_file(empty)
    with pytest.raises(InputError, match="no such file"):
        cares18k.load_file(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="unknown file type"):
        cares18k.load_file(tmp_path / "x.txt")


def test_hub_loader_records_revision(tmp_path: Path, dataset_rows: list[dict]) -> None:
    """The hub code path, pointed at a local directory laid out like the hub repo."""
    pytest.importorskip("datasets")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    repo = tmp_path / "CARES-18K"
    (repo / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(dataset_rows[:20]), repo / "data" / "train-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(dataset_rows[20:]), repo / "data" / "test-00000-of-00001.parquet")
    items, info = cares18k.load(f"hf:{repo}", split="test")
    assert len(items) == 28 and info.source == "hf" and info.split == "test"
    assert info.revision and info.revision.startswith("local-dir:")
    train, _ = cares18k.load(f"hf:{repo}", split="train")
    assert len(train) == 20
    with pytest.raises(ConfigError, match="split 'validation'"):
        cares18k.load(f"hf:{repo}", split="validation")


def test_data_spec_parsing() -> None:
    assert cares18k.parse_data_spec("hf") == ("hf", "HFXM/CARES-18K", None)
    assert cares18k.parse_data_spec("hf:org/set@abc123") == ("hf", "org/set", "abc123")
    assert cares18k.parse_data_spec("x.jsonl") == ("file", "x.jsonl", None)


def test_filters_limit_and_stratified_sample(dataset_file: Path) -> None:
    items, _ = cares18k.load_file(dataset_file)
    kept = Selection(levels=(3,), methods=("role_play", "direct")).apply(items)
    assert len(kept) == 8 and {i.metadata["harmful_level"] for i in kept} == {3}
    assert Selection(limit=5).apply(items) == items[:5]
    sample = Selection(sample=24, strata=("method",), seed=1).apply(items)
    assert len(sample) == 24
    assert {m: sum(1 for i in sample if i.metadata["method"] == m) for m in cares18k.METHODS} == dict.fromkeys(
        cares18k.METHODS, 6
    )
    assert [i.id for i in Selection(sample=24, strata=("method",), seed=1).apply(list(reversed(items)))] == [
        i.id for i in reversed(sample)
    ]
    assert {i.id for i in Selection(sample=24, seed=2).apply(items)} != {i.id for i in sample}
    with pytest.raises(ConfigError, match="no items"):
        Selection(principles=(7,), levels=(0,), methods=("direct",)).apply(items[:4])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path, suffix: str) -> None:
    rows = make_rows((0, 1, 2))
    path = tmp_path / f"data{suffix}"
    if suffix == ".jsonl":
        lines = [json.dumps(row).encode() for row in rows]
    else:
        header = ",".join(rows[0]).encode()
        lines = [header] + [",".join(f'"{v}"' for v in row.values()).encode() for row in rows]
    lines[2] = lines[2][:5] + b"\xff" + lines[2][5:]
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError) as info:
        cares18k.load(str(path))
    assert str(info.value) == f"{path}:3: not UTF-8 text (byte 6 of the line)"


def test_a_jsonl_string_may_hold_a_raw_line_separator(tmp_path: Path) -> None:
    rows = make_rows((0, 1))
    rows[0]["prompt"] = "first part\u2028second part"
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    items, _ = cares18k.load(str(path))
    assert [item.prompt for item in items][0] == "first part\u2028second part"
    assert len(items) == len(rows)


def test_an_unreachable_hub_fails_at_once_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    pytest.importorskip("datasets")
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        cares18k.load("hf:someone/some-dataset")
    message = str(info.value)
    assert message.startswith(f"someone/some-dataset: cannot reach http://127.0.0.1:{port} (")
    assert "HF_HUB_OFFLINE=1" in message and "\n" not in message
    assert time.monotonic() - started < 10


def test_an_optional_family_column_is_kept_and_checked(tmp_path: Path, dataset_rows: list[dict]) -> None:
    rows = [dict(row) for row in dataset_rows[:4]]
    rows[1]["family"] = " what-if "
    rows[2]["family"] = ""  # an empty cell, as a CSV gives for a row without one
    items, _ = cares18k.load(str(write_jsonl(tmp_path / "f.jsonl", rows)))
    assert [item.metadata.get("family") for item in items] == [None, "what-if", None, None]
    rows[3]["family"] = ["a"]
    with pytest.raises(InputError, match=r"f2\.jsonl:4: field 'family'.*wording family, got \['a'\]"):
        cares18k.load(str(write_jsonl(tmp_path / "f2.jsonl", rows)))
