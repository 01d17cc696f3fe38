"""`--executor`: local by default, Ray on request, and a one-line answer when Ray is missing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env

# The command line as a user without the Ray extra runs it: `import ray` fails.
WITHOUT_RAY = [sys.executable, "-c", "import sys; sys.modules['ray'] = None; from cares.cli.main import main; "
               "sys.exit(main(sys.argv[1:]))"]


def run(command: list[str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command + list(args), env=env or cli_env(), capture_output=True, text=True, timeout=180)


def test_without_ray_local_runs_work_and_ray_names_the_extra(tmp_path: Path, dataset_file: Path) -> None:
    base = ["run", "cares-18k", "--model", "baseline/refuse", "--data", str(dataset_file)]
    local = run(WITHOUT_RAY, *base, "--run-dir", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    assert json.loads((tmp_path / "local" / "results.json").read_text())["counts"]["answered"] == 48
    asked = run(WITHOUT_RAY, *base, "--run-dir", str(tmp_path / "ray"), "--executor", "ray")
    assert asked.returncode == 2, asked.stderr
    assert asked.stderr.strip() == (
        "cares: error: --executor ray needs Ray, which is not installed; install the extra: pip install 'cares[ray]'"
    )
    assert not (tmp_path / "ray").exists()


def test_ray_settings_without_the_ray_executor_are_refused(tmp_path: Path, dataset_file: Path) -> None:
    proc = run(CARES, "run", "cares-18k", "--model", "baseline/refuse", "--data", str(dataset_file),
               "--run-dir", str(tmp_path / "run"), "--ray-workers", "4")
    assert proc.returncode == 2 and proc.stderr.strip() == "cares: error: --ray-workers applies to --executor ray"


def test_cli_run_on_ray_reads_the_key_on_the_workers_and_resumes(tmp_path: Path, dataset_file: Path) -> None:
    pytest.importorskip("ray")
    secret = "sk-RAY-WORKER-KEY-0b1c"
    run_dir = tmp_path / "run"
    env = cli_env(CARES_TEST_KEY=secret)
    with FakeOpenAIServer(ServerConfig(api_key=secret)) as srv:
        common = ["--base-url", srv.base_url, "--api-key-env", "CARES_TEST_KEY", "--executor", "ray",
                  "--ray-workers", "2", "--no-progress"]
        first = run(CARES, "run", "cares-18k", "--model", "openai/fake", "--data", str(dataset_file),
                    "--run-dir", str(run_dir), *common, env=env)
        assert first.returncode == 0, first.stderr
        again = run(CARES, "resume", str(run_dir), *common, env=env)
        assert again.returncode == 0, again.stderr
        # Every answer came from an authorised request, each prompt once; the resume asked nothing.
        assert srv.stats.completed == srv.stats.requests == 48
    results = json.loads((run_dir / "results.json").read_text())
    assert results["counts"]["answered"] == 48
    for path in run_dir.rglob("*"):
        assert secret.encode() not in path.read_bytes(), path


def test_a_ray_address_where_nothing_answers_fails_at_once_in_one_line(tmp_path: Path, dataset_file: Path) -> None:
    pytest.importorskip("ray")
    import socket

    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    proc = run(CARES, "run", "cares-18k", "--model", "openai/m", "--base-url", "http://127.0.0.1:9/v1", "--data",
               str(dataset_file), "--run-dir", str(tmp_path / "run"), "--executor", "ray",
               "--ray-address", f"127.0.0.1:{port}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"cares: error: --ray-address 127.0.0.1:{port}: cannot join the Ray cluster, nothing answers there "
        "(Connection refused)")
    assert time.monotonic() - started < 60  # Ray alone retries such an address for minutes
