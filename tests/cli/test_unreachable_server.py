"""`cares run` against an address where nothing listens stops within seconds, with one line naming the
URL and what to check, and exit status 2 (a configuration error), instead of retrying for minutes."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import CARES, cli_env


def test_nothing_listening_stops_the_run_at_once_with_one_line(tmp_path: Path, dataset_file: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed on leaving: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    started = time.monotonic()
    proc = subprocess.run(
        [*CARES, "run", "cares-18k", "--model", "openai/x", "--base-url", url, "--data", str(dataset_file),
         "--no-progress", "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=cli_env(), timeout=60,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert elapsed < 15, elapsed
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cares: error:"), proc.stderr
    assert url in lines[0] and "check that the server is running" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "results:" not in proc.stdout
