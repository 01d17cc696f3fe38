"""SIGTERM stops a run as Ctrl-C does: a one-line message, everything answered kept, the run directory
released, and the same command resumes without asking anything twice."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from tests.conftest import CARES, cli_env, make_rows, write_jsonl


def test_sigterm_mid_run_is_handled_like_ctrl_c_and_resumes(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(20))))
    run_dir = tmp_path / "run"
    # Slow enough that the signal lands while requests are still in flight (80 at concurrency 4: 4 s).
    with FakeOpenAIServer(ServerConfig(latency_s=0.2)) as srv:
        command = CARES + ["run", "cares-18k", "--model", "openai/fake", "--base-url", srv.base_url, "--data",
                           str(data), "--concurrency", "4", "--no-progress", "--run-dir", str(run_dir)]
        proc = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while srv.stats.completed < 20 and time.time() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 143, err
        assert err.strip() == ("cares: terminated (SIGTERM); everything answered so far is saved. "
                               "Run the same command to resume.")
        assert (run_dir / "run.lock").read_text() == ""  # released on the way out, not by the kernel
        with sqlite3.connect(run_dir / "run.sqlite") as db:
            saved = [json.loads(r[0])["messages"][-1]["content"]
                     for r in db.execute("SELECT request FROM responses WHERE status = 'ok'")]
        assert 20 <= len(saved) < 80
        before = dict(srv.stats.by_prompt)
        resumed = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert all(srv.stats.by_prompt[prompt] == before[prompt] for prompt in saved)
    assert len((run_dir / "samples.jsonl").read_text().splitlines()) == 80
