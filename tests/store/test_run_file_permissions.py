"""Every file of a run is private to its owner (0600), its directory 0700: run.sqlite and its -wal and
-shm files were 0644 while results.json was 0600."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from cares.store import RunStore
from cares.store.files import PRIVATE_FILE_MODE
from tests.conftest import CARES, cli_env, make_rows, write_jsonl


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_file_of_a_run_is_private_to_its_owner(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows((0, 3)))
    run_dir = tmp_path / "runs" / "one"
    proc = subprocess.run(CARES + ["run", "cares-18k", "--model", "baseline/refuse", "--data", str(data),
                                   "--run-dir", str(run_dir), "--no-progress"], env=cli_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    files = sorted(p for p in run_dir.iterdir())
    assert {p.name for p in files} >= {"run.sqlite", "run.lock", "results.json", "samples.jsonl"}
    assert {p.name: mode(p) for p in files} == {p.name: PRIVATE_FILE_MODE for p in files}
    assert mode(run_dir) == 0o700
    with RunStore.in_dir(run_dir) as store:
        store.set_meta("probe", 1)  # the WAL files exist while a connection is open
        wal = [run_dir / "run.sqlite-wal", run_dir / "run.sqlite-shm"]
        assert all(p.exists() for p in wal)
        assert [mode(p) for p in wal] == [PRIVATE_FILE_MODE] * 2


def test_a_store_made_before_the_policy_is_brought_to_0600_when_opened(tmp_path: Path) -> None:
    with RunStore.in_dir(tmp_path) as store:
        store.set_meta("probe", 1)
    (tmp_path / "run.sqlite").chmod(0o644)
    with RunStore.in_dir(tmp_path):
        assert mode(tmp_path / "run.sqlite") == PRIVATE_FILE_MODE
