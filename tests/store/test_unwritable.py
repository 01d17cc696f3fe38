"""A run store that cannot be created is a one-line error naming the path and the cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from cares.errors import InputError
from cares.store import RunStore


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError) as info:
        RunStore.in_dir(tmp_path / "afile" / "run")
    assert str(info.value) == (f"{tmp_path}/afile/run/run.sqlite: cannot open a run store here: "
                               f"{tmp_path}/afile is a file, not a folder")
