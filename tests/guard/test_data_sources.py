from __future__ import annotations

from pathlib import Path

from cares.guard.data_sources import load_training_data
from tests.conftest import write_jsonl


def test_a_file_that_names_families_is_measured_by_family(tmp_path: Path, dataset_rows: list[dict]) -> None:
    plain = load_training_data(str(write_jsonl(tmp_path / "plain.jsonl", dataset_rows)))
    assert not plain.has_families
    assert {row.family for row in plain.rows} == {"direct", "indirect", "obfuscate", "role_play"}
    rows = [dict(row, family="what-if") if row["method"] == "indirect" else row for row in dataset_rows]
    named = load_training_data(str(write_jsonl(tmp_path / "named.jsonl", rows)))
    assert named.has_families
    assert {row.family for row in named.rows if row.method == "indirect"} == {"what-if"}
    assert {row.family for row in named.rows if row.method == "obfuscate"} == {"obfuscate"}
    # Each row keeps its source id, so per-prompt output can be joined back to the file.
    assert len({row.item_id for row in named.rows}) == len(rows) and all(row.item_id for row in named.rows)


def test_a_family_on_direct_rows_alone_does_not_make_styles_into_families(tmp_path: Path,
                                                                          dataset_rows: list[dict]) -> None:
    rows = [dict(row, family="plain") if row["method"] == "direct" else row for row in dataset_rows]
    data = load_training_data(str(write_jsonl(tmp_path / "direct-only.jsonl", rows)))
    assert not data.has_families
