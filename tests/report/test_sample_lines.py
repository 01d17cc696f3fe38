"""A samples.jsonl line holds what json would have written, whichever encoder writes it."""

from __future__ import annotations

import json
import math

from cares.report.outputs import sample_line


def test_a_plain_record_reads_back_as_it_was() -> None:
    record = {"id": "p1", "response": "Prenez 2 comprimés — 服用两片", "score": 0.5, "usage": None,
              "metadata": {"harmful_level": 2, "tags": ["a", "b"]}, "attempts": 1}
    line = sample_line(record, record["metadata"])
    assert b"\n" not in line
    assert json.loads(line) == record
    assert "服用两片".encode() in line  # written as UTF-8, not escaped


def test_nan_in_the_metadata_stays_nan_as_json_writes_it() -> None:
    metadata = {"harmful_level": 1, "source_row": float("nan"), "nested": {"w": float("inf")}}
    line = sample_line({"id": "p2", "metadata": metadata}, metadata)
    back = json.loads(line)
    assert math.isnan(back["metadata"]["source_row"]) and back["metadata"]["nested"]["w"] == math.inf


def test_values_orjson_refuses_are_written_by_json() -> None:
    big = {"id": "p3", "metadata": {"n": 2**70}}
    assert json.loads(sample_line(big, big["metadata"]))["metadata"]["n"] == 2**70
    lone = {"id": "p4", "response": "cut off \ud800 here"}
    line = sample_line(lone, {})
    line.decode("utf-8")  # valid UTF-8: the surrogate is escaped
    assert json.loads(line)["response"] == "cut off \ud800 here"
