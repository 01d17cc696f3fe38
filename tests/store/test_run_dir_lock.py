"""One process per run directory: a second one exits 2 at once naming the holder's PID, and a killed
holder never blocks the resume (the kernel releases flock with the process)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cares.store.lock import LOCK_NAME, RunDirBusy, RunDirLock
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env, make_rows, write_jsonl


def run_command(data: Path, run_dir: Path, base_url: str) -> list[str]:
    return CARES + ["run", "cares-18k", "--model", "openai/fake", "--base-url", base_url, "--data", str(data),
                    "--concurrency", "2", "--no-progress", "--run-dir", str(run_dir)]


def wait_for_answers(srv: FakeOpenAIServer, n: int) -> None:
    deadline = time.time() + 60
    while srv.stats.completed < n and time.time() < deadline:
        time.sleep(0.01)
    assert srv.stats.completed >= n


def test_a_second_process_on_a_run_directory_exits_2_at_once_naming_the_holder(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows((0, 1, 2, 3) * 3))
    run_dir = tmp_path / "run"
    with FakeOpenAIServer(ServerConfig(latency_s=0.25)) as srv:  # about 6 s of work for the first run
        first = subprocess.Popen(run_command(data, run_dir, srv.base_url), env=cli_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for_answers(srv, 4)
        started = time.monotonic()
        second = subprocess.run(run_command(data, run_dir, srv.base_url), env=cli_env(), capture_output=True,
                                text=True, timeout=60)
        waited = time.monotonic() - started
        assert first.poll() is None, "the first run should still be running"
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [second.stderr.strip()]
        assert f"is in use by process {first.pid}" in second.stderr
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    print(f"second process refused after {waited:.2f}s")
    assert waited < 10
    # Exactly one ran: every prompt was asked once.
    assert max(srv.stats.by_prompt.values()) == 1 and sum(srv.stats.by_prompt.values()) == 48


def test_a_run_killed_with_sigkill_leaves_a_lock_file_that_does_not_block_the_resume(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows((0, 1, 2, 3) * 3))
    run_dir = tmp_path / "run"
    with FakeOpenAIServer(ServerConfig(latency_s=0.05)) as srv:
        proc = subprocess.Popen(run_command(data, run_dir, srv.base_url), env=cli_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_answers(srv, 4)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert (run_dir / LOCK_NAME).read_text().strip() == str(proc.pid)  # stale, and harmless
        resumed = subprocess.run(run_command(data, run_dir, srv.base_url), env=cli_env(), capture_output=True,
                                 text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert (run_dir / LOCK_NAME).read_text() == ""  # emptied by a clean exit


def test_the_lock_nests_within_one_process_and_refuses_another(tmp_path: Path) -> None:
    with RunDirLock(tmp_path / "run"):
        with RunDirLock(tmp_path / "run"):
            pass
        assert (tmp_path / "run" / LOCK_NAME).read_text().strip() == str(os.getpid())
        script = ("import sys\nfrom cares.store.lock import RunDirLock\n"
                  "try:\n    RunDirLock(sys.argv[1]).acquire()\nexcept Exception as exc:\n    print(exc)\n")
        other = subprocess.run([sys_executable(), "-c", script, str(tmp_path / "run")], capture_output=True,
                               text=True, timeout=60)
        assert f"in use by process {os.getpid()}" in other.stdout
    with RunDirLock(tmp_path / "run"):
        pass  # released: it can be taken again


def sys_executable() -> str:
    import sys

    return sys.executable


def test_run_dir_busy_is_a_user_error() -> None:
    assert RunDirBusy("x").exit_code == 2
    with pytest.raises(RunDirBusy):
        raise RunDirBusy("x")
