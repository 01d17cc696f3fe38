"""Input that is JSON but not text (a lone UTF-16 surrogate) or nested beyond the parser's limit is a
one-line error naming file, line and field, not an internal error; JSON errors read plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cares.data import cares18k
from cares.errors import InputError
from tests.conftest import make_rows


def row_text(**changes: object) -> str:
    return json.dumps({**make_rows((0,))[0], **changes})


def test_a_lone_surrogate_names_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(row_text() + "\n" + row_text(prompt="PLACEHOLDER").replace("PLACEHOLDER", "ok \\udc80 no") + "\n")
    with pytest.raises(InputError) as caught:
        cares18k.load_file(path)
    assert str(caught.value).startswith(f"{path}:2: field 'prompt': holds a lone UTF-16 surrogate (\\udc80)")


def test_a_surrogate_pair_is_text(tmp_path: Path) -> None:
    path = tmp_path / "pair.jsonl"
    path.write_text(row_text(prompt="PLACEHOLDER").replace("PLACEHOLDER", "smile \\ud83d\\ude00") + "\n")
    (item,), _ = cares18k.load_file(path)
    assert item.prompt == "smile \U0001F600"


def test_ten_thousand_levels_of_nesting_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(row_text() + "\n" + row_text()[:-1] + ', "extra": ' + "[" * 10_000 + "]" * 10_000 + "}\n")
    with pytest.raises(InputError, match=r"deep.jsonl:2: not valid input: JSON nested too deeply"):
        cares18k.load_file(path)


def test_json_errors_do_not_say_at_at(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"prompt": "never closed\n')
    with pytest.raises(InputError) as caught:
        cares18k.load_file(path)
    assert str(caught.value) == f"{path}:1: not valid JSON (Unterminated string at column 12)"
    assert "at at" not in str(caught.value)
