"""Spreading the rules judge's batches over the machine's cores.

Reading an answer is pure CPU work in one thread (Python, numpy and RE2), so a rescore of a whole
run, or the judging stage after a fast local server, is bound by one core while the others idle.
Batches are independent (each answer's verdict depends on that answer alone), so they can be read
in worker processes and give exactly the verdicts a single process gives.

Workers are forked: they start in milliseconds with the weights the parent already holds, where a
fresh interpreter would import numpy and the classifier again. Only Linux forks safely enough for
this; elsewhere, and on one core, everything stays in the process. The pool is kept for the life
of the process, so a run that judges chunk after chunk forks once (forking for every call cost a
third of what the second core gave). A forked worker starts with copies of every socket the parent
had open (the model server's connections, the event loop's own); it closes its copies at once, so
that a connection the parent closes is closed, though the worker lives on in a long process.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

Batch = TypeVar("Batch")
Result = TypeVar("Result")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()
_WATCH_SECONDS = 0.5


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call outside Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def _workers(size: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown()
            _pool = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_start_worker, initargs=(os.getpid(),))
            _pool_size = size
        return _pool


def _start_worker(parent: int) -> None:
    # The parent's event loop may have set SIGTERM to a handler and the signal wakeup to one of its
    # sockets; a worker must die on SIGTERM (the pool terminates the rest when one is killed) and
    # leave Ctrl-C to the parent, which stops the pool.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _close_inherited_sockets()
    _follow_parent(parent)


def _close_inherited_sockets() -> None:
    """Close this worker's copies of the parent's sockets. The pool's own channels are pipes, and
    closing a copy leaves the parent's socket as it was."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:  # the descriptor the listing itself used, gone by now
            pass


def _follow_parent(parent: int) -> None:
    """Exit when the parent is gone: a worker waits on a pipe whose other end it holds itself, so a
    killed run (SIGKILL, OOM) would otherwise leave its workers behind for good."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="cares-follow-parent", daemon=True).start()


@atexit.register
def close_workers() -> None:
    """Stop the worker processes; the next large call forks new ones."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


def map_batches(work: Callable[[Batch], list[Result]], batches: Sequence[Batch], cores: int) -> list[Result]:
    """`work` on every batch, in order, the results joined: `cores - 1` forked workers take batches
    from the front and this process takes them from the back, until none is left.

    Each worker is kept two batches ahead: this process hands out more after each batch it reads
    itself, so neither side waits while there is work left, and nothing handed out is withdrawn.
    `work` must be a module-level function (workers receive it by name) that reads nothing the
    parent changes after the first fork."""
    if cores <= 1 or len(batches) <= 1:
        return [result for batch in batches for result in work(batch)]
    workers = cores - 1
    pool = _workers(workers)
    waiting = deque(range(len(batches)))
    theirs: dict[int, Future[list[Result]]] = {}
    done: dict[int, list[Result]] = {}
    broken: list[bool] = []

    def hand_out() -> None:
        while waiting and sum(not future.done() for future in theirs.values()) < 2 * workers:
            try:
                theirs[waiting[0]] = pool.submit(work, batches[waiting[0]])
            except (BrokenProcessPool, RuntimeError):  # a worker was killed, or the pool stopped: read here
                broken.append(True)
                return
            waiting.popleft()

    hand_out()
    while waiting:
        i = waiting.pop()
        done[i] = work(batches[i])
        hand_out()
    for i, future in theirs.items():
        try:
            done[i] = future.result()
        except BrokenProcessPool:
            done[i] = work(batches[i])
    if broken or any(future.exception() is not None for future in theirs.values()):
        close_workers()  # broken for good: the next call forks new workers
    return [result for i in range(len(batches)) for result in done[i]]
