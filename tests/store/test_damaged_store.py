"""A damaged or read-only run store is a one-line error naming run.sqlite, exit 2, never an internal
error; `cares show` refuses to print results exported before the store was damaged."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CARES, cli_env, make_rows, write_jsonl


def cares(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CARES + list(args), env=cli_env(), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finished")
    data = write_jsonl(root / "d.jsonl", make_rows((0, 1, 2, 3)))
    proc = cares("run", "cares-18k", "--model", "baseline/refuse", "--data", str(data), "--run-dir", str(root / "run"),
                 "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return root / "run"


def copy_run(finished_run: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    return run_dir


def garble_header(store: Path) -> None:
    data = bytearray(store.read_bytes())
    data[:16] = b"not sqlite at al"
    store.write_bytes(bytes(data))


def garble_pages(store: Path) -> None:
    data = bytearray(store.read_bytes())
    for index in range(4096, len(data), 7):  # everything after the first page
        data[index] = 0x55
    store.write_bytes(bytes(data))


COMMANDS = {
    "resume": lambda run_dir: ("resume", str(run_dir), "--no-progress"),
    "export": lambda run_dir: ("export", str(run_dir)),
    "show": lambda run_dir: ("show", str(run_dir)),
    "rescore": lambda run_dir: ("rescore", str(run_dir), "--judge", "rules", "--no-progress"),
}


@pytest.mark.parametrize("damage", ["header", "pages"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_damaged_store_is_one_line_naming_the_file(finished_run: Path, tmp_path: Path, damage: str,
                                                     command: str) -> None:
    run_dir = copy_run(finished_run, tmp_path)
    (garble_header if damage == "header" else garble_pages)(run_dir / "run.sqlite")
    proc = cares(*COMMANDS[command](run_dir))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"cares: error: {run_dir}/run.sqlite: damaged run store"), proc.stderr
    assert "internal error" not in proc.stderr and "Safety" not in proc.stdout


@pytest.fixture
def read_only_store(finished_run: Path, tmp_path: Path) -> Iterator[Path]:
    run_dir = copy_run(finished_run, tmp_path)
    store = run_dir / "run.sqlite"
    if os.geteuid() != 0:
        store.chmod(0o444)
        yield run_dir
        return
    # Permissions do not bind root: the immutable attribute does, where the file system has it.
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(store)]).returncode != 0:
        pytest.skip("running as root without chattr +i: cannot make a file read-only")
    try:
        yield run_dir
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)


def test_a_read_only_store_is_one_line_naming_the_file(read_only_store: Path) -> None:
    proc = cares("resume", str(read_only_store), "--no-progress")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    expected = f"cares: error: {read_only_store}/run.sqlite: cannot write the run store"
    assert proc.stderr.startswith(expected), proc.stderr


def test_show_of_a_healthy_run_still_prints_it(finished_run: Path) -> None:
    proc = cares("show", str(finished_run))
    assert proc.returncode == 0 and "items 16: scored 16" in proc.stdout
