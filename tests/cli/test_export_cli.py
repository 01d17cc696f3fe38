"""`cares export` as a user runs it: formats, default file names and one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CARES, cli_env


def cares(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CARES + list(args), env=cli_env(), capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("export-cli") / "run"
    proc = cares("run", "cares-18k", "--model", "baseline/refuse", "--limit", "12", "--bootstrap", "0",
                 "--run-dir", str(run), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return run


def test_default_export_rebuilds_results_and_samples(run_dir: Path) -> None:
    (run_dir / "results.json").unlink()
    proc = cares("export", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"wrote {run_dir / 'results.json'} and {run_dir / 'samples.jsonl'}\n"
    assert (run_dir / "results.json").is_file()


@pytest.mark.parametrize("fmt,name", [("csv", "samples.csv"), ("parquet", "samples.parquet"),
                                      ("inspect", "inspect.eval")])
def test_each_format_writes_its_default_file(run_dir: Path, fmt: str, name: str) -> None:
    if fmt == "inspect":
        pytest.importorskip("inspect_ai")
    proc = cares("export", str(run_dir), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith(f" and {run_dir / name}") and (run_dir / name).stat().st_size > 0


def test_inspect_log_to_a_chosen_file(run_dir: Path, tmp_path: Path) -> None:
    inspect_log = pytest.importorskip("inspect_ai.log")
    proc = cares("export", str(run_dir), "--format", "inspect", "--output", str(tmp_path / "refuse.eval"))
    assert proc.returncode == 0, proc.stderr
    log = inspect_log.read_eval_log(str(tmp_path / "refuse.eval"))
    labels = [json.loads(line)["label"] for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(log.samples) == 12 and [s.scores["cares"].value["label"] for s in log.samples] == labels
    assert None not in labels


@pytest.mark.parametrize("args,message", [
    (("--output", "x.csv"), "--output names the file of --format csv, parquet or inspect"),
    (("--format", "inspect", "--output", "x.txt"), "an Inspect log is named .eval or .json"),
    (("--format", "xlsx"), "argument --format: invalid choice: 'xlsx'"),
])
def test_bad_options_are_one_line_exit_2(run_dir: Path, args: tuple[str, ...], message: str) -> None:
    proc = cares("export", str(run_dir), *args)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_not_a_run_directory(tmp_path: Path) -> None:
    proc = cares("export", str(tmp_path), "--format", "csv")
    assert proc.returncode == 2 and "is not a cares run directory" in proc.stderr and "Traceback" not in proc.stderr
