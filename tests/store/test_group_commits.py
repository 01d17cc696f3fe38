"""Group commits: answers wait at most one group before they are on disk, and a kill costs no more."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from cares.runner.engine import GROUP_COMMIT_S
from cares.store import RunStore
from cares.store.runstore import GROUP_MAX
from cares.testing.openai_server import FakeOpenAIServer, ServerConfig
from cares.types import GenerationParams, Request, Response, ResponseStatus, Usage
from tests.conftest import CARES, cli_env, make_rows, write_jsonl


def answer(key: str) -> Response:
    return Response(key, "m/x", ResponseStatus.OK, f"answer {key}", None, Usage(1, 2), 1, 0.1)


def committed(path: Path) -> int:
    """What another connection sees: only committed rows."""
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


def test_a_group_holds_at_most_its_size_and_listeners_see_only_committed_answers(tmp_path: Path) -> None:
    seen_at_commit: list[tuple[int, int]] = []
    with RunStore.in_dir(tmp_path) as store:
        path = store.path
        store.on_answers = lambda answers: seen_at_commit.append((len(answers), committed(path)))
        with store.grouped_commits(max_answers=8):
            for i in range(20):
                store.put_response(answer(f"k{i}"), Request.chat(f"q{i}", GenerationParams()))
                assert i + 1 - committed(path) < 8  # waiting: at most one group, less one
            assert committed(path) == 16
            assert store.answered_keys() == {f"k{i}" for i in range(20)}  # a read commits what waits
        assert committed(path) == 20
        store.put_response(answer("single"), Request.chat("single", GenerationParams()))
        assert committed(path) == 21  # outside a group, committed at once
    # Each group's answers reached the listener after they were on disk.
    total = 0
    for size, on_disk in seen_at_commit:
        total += size
        assert on_disk >= total
    assert total == 21


def test_closing_the_store_commits_what_waits(tmp_path: Path) -> None:
    store = RunStore.in_dir(tmp_path)
    with store.grouped_commits(max_answers=100):
        for i in range(5):
            store.put_response(answer(f"k{i}"), Request.chat(f"q{i}", GenerationParams()))
        assert committed(store.path) == 0
        store.close()
    assert committed(tmp_path / "run.sqlite") == 5


def test_sigkill_loses_at_most_the_answers_in_flight_plus_one_group(tmp_path: Path) -> None:
    """A zero-latency server answers faster than one answer per commit would keep up with; after a
    SIGKILL, what the server answered but the store lacks is at most the concurrency plus one group."""
    concurrency = 32
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(tuple(i % 4 for i in range(1000))))
    with FakeOpenAIServer(ServerConfig()) as srv:
        command = CARES + ["run", "cares-18k", "--model", "openai/fake", "--base-url", srv.base_url, "--data",
                           str(data), "--concurrency", str(concurrency), "--no-progress", "--no-cache",
                           "--run-dir", str(tmp_path / "killed")]
        proc = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while srv.stats.completed < 1500 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.2)  # answers the server was still sending when the client died count as received
        answered_by_server = srv.stats.completed
    stored = committed(tmp_path / "killed" / "run.sqlite")
    with sqlite3.connect(tmp_path / "killed" / "run.sqlite") as db:
        prompts = [json.loads(r[0])["messages"][-1]["content"] for r in db.execute("SELECT request FROM responses")]
    assert len(set(prompts)) == stored
    lost = answered_by_server - stored
    print(f"server answered {answered_by_server}, stored {stored}, lost {lost} "
          f"(bound {concurrency} in flight + {GROUP_MAX} in a group; groups close every {GROUP_COMMIT_S * 1000:g} ms)")
    assert 1000 <= answered_by_server < 4000
    assert 0 <= lost <= concurrency + GROUP_MAX
