"""Exports are written whole or not at all, and an unwritable target is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from cares.errors import InputError
from cares.report.outputs import write_atomic


def test_write_atomic_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.json"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text() == "second" and [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_write_atomic_names_what_is_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match=r"afile/out.json: cannot write: .*afile is a file, not a folder$"):
        write_atomic(tmp_path / "afile" / "out.json", "text")
    (tmp_path / "adir").mkdir()
    with pytest.raises(InputError, match=r"adir: cannot write \(Is a directory\)$"):
        write_atomic(tmp_path / "adir", "text")
    assert [p.name for p in (tmp_path / "adir").iterdir()] == []
