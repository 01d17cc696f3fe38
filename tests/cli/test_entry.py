"""The `cares` command's exit: streams flushed, exit handlers run, the status kept, threads awaited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from cares.cli import main as cli

out = Path(sys.argv[1])
atexit.register(lambda: out.with_suffix(".atexit").write_text("ran"))
def fake_main():
    print("buffered, no newline", end="")  # a pipe is block-buffered: only a flush writes it
    if sys.argv[2] == "thread":
        threading.Thread(target=lambda: (time.sleep(0.5), out.with_suffix(".thread").write_text("done"))).start()
    return 3
cli.main = fake_main
cli.entry()
"""


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "out"), mode], capture_output=True,
                          text=True, timeout=60)


def test_the_exit_flushes_runs_the_handlers_and_keeps_the_status(tmp_path: Path) -> None:
    done = _run(tmp_path, "plain")
    assert done.returncode == 3
    assert done.stdout == "buffered, no newline"
    assert (tmp_path / "out.atexit").read_text() == "ran"


def test_a_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    done = _run(tmp_path, "thread")
    assert done.returncode == 3 and done.stdout == "buffered, no newline"
    assert (tmp_path / "out.thread").read_text() == "done"
    assert (tmp_path / "out.atexit").read_text() == "ran"


def test_a_reader_that_stops_early_gets_no_error_from_cares(tmp_path: Path) -> None:
    # `cares ... | head`: the read end is closed before cares writes, so every write fails.
    from tests.conftest import CARES, cli_env

    proc = subprocess.Popen([*CARES, "guard", "evaluate", "--data", "never-tuned", "--resamples", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == "", err
