"""Batches spread over forked workers: the same results, in order, and the work really shared."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time

import pytest

from cares.judges.cores import can_fork, close_workers, map_batches
from cares.judges.rules import _BATCH, classify_many

pytestmark = pytest.mark.skipif(not can_fork(), reason="workers are forked, which only Linux does here")


def _tagged(batch: list[int]) -> list[tuple[int, int]]:
    time.sleep(0.05)  # long enough that the worker takes some batches before this process runs out
    return [(item * item, os.getpid()) for item in batch]


def test_results_come_back_in_order_from_both_processes() -> None:
    batches = [list(range(start, start + 5)) for start in range(0, 40, 5)]
    results = map_batches(_tagged, batches, cores=2)
    assert [square for square, _ in results] == [item * item for item in range(40)]
    pids = {pid for _, pid in results}
    assert os.getpid() in pids and len(pids) == 2


def test_one_core_or_one_batch_stays_in_this_process() -> None:
    for batches, cores in (([[1, 2], [3]], 1), ([[1, 2, 3]], 4)):
        results = map_batches(_tagged, batches, cores)
        assert [square for square, _ in results] == [1, 4, 9]
        assert {pid for _, pid in results} == {os.getpid()}


def test_verdicts_do_not_depend_on_how_many_cores_read_them() -> None:
    words = "dose tablets insulin clinic refuse sorry here steps first call doctor mix".split()
    pairs = [(f"question {i}?", " ".join(words[(i * k) % len(words)] for k in range(1, 2 + i % 30)) + f" ({i})")
             for i in range(2 * _BATCH + 300)]
    assert classify_many(pairs, cores=2) == classify_many(pairs, cores=1)


_PARENT = os.getpid()


def _dies_in_worker(batch: list[int]) -> list[int]:
    if os.getpid() != _PARENT:
        os._exit(1)  # as a worker killed by the OOM killer would
    time.sleep(0.02)
    return batch


def test_a_killed_worker_costs_nothing_but_time() -> None:
    batches = [[i] for i in range(6)]
    assert map_batches(_dies_in_worker, batches, cores=2) == list(range(6))
    # The broken pool was dropped: the next call forks new workers and works.
    assert [square for square, _ in map_batches(_tagged, [[2], [3]], cores=2)] == [4, 9]


def test_workers_leave_with_a_killed_parent(tmp_path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from cares.judges.cores import map_batches\n"
        "def work(batch):\n"
        f"    Path({str(tmp_path)!r}, f'pid-{{os.getpid()}}').write_text('')\n"
        "    time.sleep(60)\n"
        "    return batch\n"
        "map_batches(work, [[0]] * 8, cores=2)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline and not workers:
        workers = [int(p.name[4:]) for p in tmp_path.glob("pid-*") if int(p.name[4:]) != parent.pid]
        time.sleep(0.05)
    assert workers, "no worker started"
    parent.kill()  # in the middle of the call, with a worker reading a batch
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # An exited child of the killed parent is reaped by init; until then it is a zombie, not alive.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[-1][0] != "Z"


def _sockets(batch: list[int]) -> list[tuple[int, int]]:
    fds = [int(name) for name in os.listdir("/proc/self/fd")]
    open_sockets = []
    for fd in fds:
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                open_sockets.append(fd)
        except OSError:
            pass
    time.sleep(0.05)
    return [(len(open_sockets), os.getpid())]


def test_workers_hold_no_copy_of_the_parents_sockets() -> None:
    close_workers()  # workers forked after these sockets exist
    listener = socket.create_server(("127.0.0.1", 0))
    mine, theirs = socket.socketpair()
    try:
        results = map_batches(_sockets, [[0]] * 6, cores=2)
        in_workers = [count for count, pid in results if pid != os.getpid()]
        assert in_workers and all(count == 0 for count in in_workers)
        # This process's sockets are untouched.
        mine.sendall(b"still open")
        assert theirs.recv(16) == b"still open"
        assert listener.getsockname()[1] > 0
    finally:
        for sock in (listener, mine, theirs):
            sock.close()


def test_a_run_directory_lock_is_free_once_released_though_workers_live_on(tmp_path) -> None:
    from cares.store.lock import RunDirLock

    close_workers()
    lock = RunDirLock(tmp_path).acquire()
    assert {pid for _, pid in map_batches(_tagged, [[1], [2], [3], [4]], cores=2)} - {os.getpid()}
    lock.release()  # the workers, forked while it was held, share its open file
    other = subprocess.run([sys.executable, "-c", "import sys; from cares.store.lock import RunDirLock; "
                            "RunDirLock(sys.argv[1]).acquire()", str(tmp_path)], capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    RunDirLock(tmp_path).acquire().release()


def test_a_worker_killed_under_an_event_loops_signal_handlers_stops_nothing(tmp_path) -> None:
    # As in `cares run`: the pool forks inside an event loop that handles SIGTERM. When a worker is
    # killed (the OOM killer), the pool terminates the others: they must die, not hang the exit.
    script = tmp_path / "loop.py"
    script.write_text(
        "import asyncio, os, signal, time\n"
        "from cares.judges.cores import close_workers, map_batches\n"
        "def work(batch):\n"
        "    time.sleep(0.2)\n"
        "    return [os.getpid()]\n"
        "async def main():\n"
        "    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: None)\n"
        "    workers = sorted(set(map_batches(work, list(range(8)), 4)) - {os.getpid()})\n"
        "    time.sleep(0.3)\n"
        "    os.kill(workers[0], signal.SIGKILL)\n"
        "    time.sleep(0.5)\n"
        "    print(len(map_batches(work, list(range(8)), 4)), flush=True)\n"
        "asyncio.run(main())\n"
        "close_workers()\n"
        "print('closed', flush=True)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["8", "closed"]
