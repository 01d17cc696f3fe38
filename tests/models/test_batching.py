"""Length-sorted micro-batching: which requests form a batch, and how results get back to their callers."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading

import pytest

from cares.models.batching import MicroBatcher, Waiting, choose_batch


def waiting(lengths: list[int], groups: list[object] | None = None) -> list[Waiting[int]]:
    """Waiting entries created in list order, so the first one is the oldest."""
    groups = groups or [None] * len(lengths)
    return [Waiting(payload=i, length=n, group=g, future=None) for i, (n, g) in enumerate(zip(lengths, groups))]  # type: ignore[arg-type]


def spread(batch: list[Waiting[int]]) -> int:
    return max(w.length for w in batch) - min(w.length for w in batch)


# ------------------------------------------------------------------ choose_batch


def test_empty_queue_gives_an_empty_batch() -> None:
    assert choose_batch([], 4) == []


def test_the_oldest_request_and_its_nearest_lengths() -> None:
    queue = waiting([50, 10, 11, 12, 49, 51, 90])
    batch = choose_batch(queue, 3)
    assert [w.length for w in batch] == [49, 50, 51]
    assert queue[0] in batch


def test_the_oldest_request_is_taken_even_when_it_is_an_outlier() -> None:
    queue = waiting([500, 10, 11, 12, 13])
    batch = choose_batch(queue, 3)
    assert queue[0] in batch
    assert [w.length for w in batch] == [12, 13, 500]


def test_only_the_oldest_requests_group() -> None:
    queue = waiting([20, 21, 22, 20, 20, 23], groups=["a", "b", "b", "a", "b", "a"])
    batch = choose_batch(queue, 8)
    assert {w.payload for w in batch} == {0, 3, 5}
    assert [w.length for w in batch] == [20, 20, 23]


def test_fewer_than_batch_size_returns_the_whole_group_sorted_by_length() -> None:
    queue = waiting([30, 5, 17])
    batch = choose_batch(queue, 10)
    assert [w.length for w in batch] == [5, 17, 30]


def test_random_queues_get_the_smallest_possible_spread() -> None:
    rng = random.Random(5)
    for _ in range(300):
        n = rng.randint(1, 9)
        queue = waiting([rng.randint(1, 40) for _ in range(n)], groups=[rng.choice("ab") for _ in range(n)])
        rng.shuffle(queue)  # list position is not age: `order` is
        size = rng.randint(1, 5)
        batch = choose_batch(queue, size)
        anchor = min(queue, key=lambda w: w.order)
        peers = [w for w in queue if w.group == anchor.group]
        assert anchor in batch
        assert all(w.group == anchor.group for w in batch)
        assert len({id(w) for w in batch}) == len(batch) == min(size, len(peers))
        best = min(
            spread([anchor, *others])
            for others in itertools.combinations([w for w in peers if w is not anchor], len(batch) - 1)
        )
        assert spread(batch) == best


# ------------------------------------------------------------------ MicroBatcher


class Recorder:
    """A pure-Python batch function that remembers every batch it was given."""

    def __init__(self, fail_item=lambda p: False, fail_batch=lambda ps: False) -> None:
        self.batches: list[list[object]] = []
        self.fail_item = fail_item
        self.fail_batch = fail_batch

    def __call__(self, payloads: list[object]) -> list[object]:
        self.batches.append(list(payloads))
        if self.fail_batch(payloads):
            raise RuntimeError(f"batch of {len(payloads)} failed")
        return [ValueError(f"bad {p}") if self.fail_item(p) else f"answer {p}" for p in payloads]


def test_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(Recorder(), 0)


def test_many_concurrent_submissions_are_grouped_within_the_batch_size() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[int, str] = MicroBatcher(recorder, batch_size=4)

    async def go() -> list[str]:
        try:
            return await asyncio.gather(*(batcher.submit(i, length=i % 7) for i in range(30)))
        finally:
            await batcher.aclose()

    results = asyncio.run(go())
    assert results == [f"answer {i}" for i in range(30)]
    assert all(1 <= len(batch) <= 4 for batch in recorder.batches)
    assert sorted(p for batch in recorder.batches for p in batch) == list(range(30))
    assert batcher.largest_batch > 1 and batcher.largest_batch <= 4
    assert batcher.batches_run == len(recorder.batches) < 30


def test_groups_never_share_a_batch() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[int, str] = MicroBatcher(recorder, batch_size=8)

    async def go() -> None:
        await asyncio.gather(*(batcher.submit(i, length=10, group=i % 3) for i in range(24)))
        await batcher.aclose()

    asyncio.run(go())
    for batch in recorder.batches:
        assert len({p % 3 for p in batch}) == 1
    assert batcher.largest_batch == 8


def test_an_item_exception_fails_only_its_own_caller() -> None:
    recorder = Recorder(fail_item=lambda p: p % 3 == 0)
    batcher: MicroBatcher[int, str] = MicroBatcher(recorder, batch_size=4)

    async def go() -> list[object]:
        out = await asyncio.gather(*(batcher.submit(i, length=1) for i in range(12)), return_exceptions=True)
        await batcher.aclose()
        return out

    results = asyncio.run(go())
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, ValueError) and str(result) == f"bad {i}"
        else:
            assert result == f"answer {i}"
    assert batcher.largest_batch > 1


def test_a_raising_batch_function_fails_that_whole_batch_and_nothing_else() -> None:
    recorder = Recorder(fail_batch=lambda ps: 13 in ps)
    batcher: MicroBatcher[int, str] = MicroBatcher(recorder, batch_size=4)

    async def go() -> tuple[list[object], str]:
        out = await asyncio.gather(*(batcher.submit(i, length=i) for i in range(20)), return_exceptions=True)
        after = await batcher.submit(99, length=1)  # the worker survives a failed batch
        await batcher.aclose()
        return out, after

    results, after = asyncio.run(go())
    (failed_batch,) = [batch for batch in recorder.batches if 13 in batch]
    assert len(failed_batch) > 1
    for i, result in enumerate(results):
        if i in failed_batch:
            assert isinstance(result, RuntimeError) and "failed" in str(result)
        else:
            assert result == f"answer {i}"
    assert after == "answer 99"


def test_a_cancelled_waiter_is_never_run() -> None:
    started, release = threading.Event(), threading.Event()
    recorder = Recorder()

    def run_batch(payloads: list[str]) -> list[object]:
        if "block" in payloads:
            started.set()
            release.wait(10)
        return recorder(payloads)

    batcher: MicroBatcher[str, str] = MicroBatcher(run_batch, batch_size=4, gather_s=0)

    async def go() -> tuple[str, str]:
        first = asyncio.ensure_future(batcher.submit("block", length=1))
        while not started.is_set():
            await asyncio.sleep(0.001)
        doomed = asyncio.ensure_future(batcher.submit("cancelled", length=1))
        kept = asyncio.ensure_future(batcher.submit("kept", length=1))
        await asyncio.sleep(0.01)
        doomed.cancel()
        await asyncio.sleep(0)
        release.set()
        results = await first, await kept
        with pytest.raises(asyncio.CancelledError):
            await doomed
        await batcher.aclose()
        return results

    assert asyncio.run(go()) == ("answer block", "answer kept")
    assert ["kept"] in recorder.batches
    assert all("cancelled" not in batch for batch in recorder.batches)


def test_aclose_then_reuse_in_a_new_event_loop() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[int, str] = MicroBatcher(recorder, batch_size=3)
    asyncio.run(batcher.aclose())  # never used: nothing to close

    async def use(offset: int, close: bool) -> list[str]:
        out = await asyncio.gather(*(batcher.submit(offset + i, length=i) for i in range(5)))
        if close:
            await batcher.aclose()
        return out

    assert asyncio.run(use(0, close=True)) == [f"answer {i}" for i in range(5)]
    assert asyncio.run(use(10, close=False)) == [f"answer {10 + i}" for i in range(5)]
    # A loop that ended without aclose leaves a worker bound to it; the next loop starts its own.
    assert asyncio.run(use(20, close=True)) == [f"answer {20 + i}" for i in range(5)]
    assert sorted(p for batch in recorder.batches for p in batch) == [*range(5), *range(10, 15), *range(20, 25)]
