"""The group committer: results only after the batch's write, per-item failure isolation,
batches that grow with concurrency, cancelled submitters still written, close drains."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from referkit.db.batcher import BatcherClosed, GroupCommitter


class Recorder:
    def __init__(self, *, bad: set[int] | None = None, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.stored: list[int] = []
        self.bad = bad or set()
        self.delay = delay

    async def __call__(self, items: Sequence[int]) -> Sequence[int | BaseException]:
        await asyncio.sleep(self.delay)
        if self.bad & set(items):
            raise ValueError(f"bad item in {list(items)}")
        self.batches.append(list(items))
        self.stored.extend(items)
        return [item * 10 for item in items]


async def test_concurrent_submitters_share_batches_and_get_their_own_result() -> None:
    writer = Recorder(delay=0.01)
    batcher: GroupCommitter[int, int] = GroupCommitter("t", writer, max_size=50)
    batcher.start()
    results = await asyncio.gather(*(batcher.submit(i) for i in range(120)))
    await batcher.close()
    assert results == [i * 10 for i in range(120)]
    assert sorted(writer.stored) == list(range(120))
    assert max(len(batch) for batch in writer.batches) == 50
    assert len(writer.batches) < 10


async def test_a_bad_item_fails_alone() -> None:
    writer = Recorder(bad={3})
    batcher: GroupCommitter[int, int] = GroupCommitter("t", writer, max_size=50)
    batcher.start()
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
    await batcher.close()
    assert isinstance(outcomes[3], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [0, 10, 20, 40, 50]
    assert sorted(writer.stored) == [0, 1, 2, 4, 5]


async def test_a_cancelled_submitter_is_still_written_and_close_drains() -> None:
    writer = Recorder(delay=0.02)
    batcher: GroupCommitter[int, int] = GroupCommitter("t", writer, max_size=10)
    batcher.start()
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0.005)  # the first batch is being written
    second = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    second.cancel()
    await batcher.close()
    assert await first == 10
    assert second.cancelled()
    assert writer.stored == [1, 2]
    with pytest.raises(BatcherClosed):
        await batcher.submit(3)


async def test_a_group_is_one_batch_with_per_item_outcomes() -> None:
    writer = Recorder(bad={13})
    batcher: GroupCommitter[int, int] = GroupCommitter("t", writer, max_size=4)
    batcher.start()
    single = asyncio.create_task(batcher.submit(1))
    good, bad = await asyncio.gather(
        batcher.submit_many(list(range(100, 110))), batcher.submit_many([11, 12, 13])
    )
    await batcher.close()
    assert await single == 10
    assert good == [i * 10 for i in range(100, 110)]
    assert [list(range(100, 110))] == [b for b in writer.batches if len(b) == 10]
    assert bad[:2] == [110, 120]
    assert isinstance(bad[2], ValueError)
    assert await batcher.submit_many([]) == []


async def test_two_batches_in_flight_with_concurrency_two() -> None:
    in_flight = peak = 0

    async def writer(items: Sequence[int]) -> Sequence[int | BaseException]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return [item + 1 for item in items]

    batcher: GroupCommitter[int, int] = GroupCommitter("t", writer, max_size=5, concurrency=2)
    batcher.start()
    results = await asyncio.gather(*(batcher.submit(i) for i in range(40)))
    await batcher.close()
    assert results == [i + 1 for i in range(40)]
    assert peak == 2


async def test_no_submitter_waits_forever() -> None:
    """A writer that breaks its contract, or a flush cancelled mid-write, still ends every
    submitter's wait, with an error."""

    async def short(items: Sequence[int]) -> Sequence[int | BaseException]:
        return [1]  # one result for however many items

    batcher: GroupCommitter[int, int] = GroupCommitter("t", short, max_size=10)
    batcher.start()
    with pytest.raises(BatcherClosed):
        await asyncio.wait_for(batcher.submit_many([1, 2, 3]), 2)
    await batcher.close()

    started = asyncio.Event()

    async def slow(items: Sequence[int]) -> Sequence[int | BaseException]:
        started.set()
        await asyncio.sleep(10)
        return list(items)

    batcher = GroupCommitter("t", slow, max_size=10)
    batcher.start()
    waiting = asyncio.create_task(batcher.submit(1))
    await started.wait()
    for task in list(batcher._flushing):
        task.cancel()
    with pytest.raises(BatcherClosed):
        await asyncio.wait_for(waiting, 2)
    await batcher.close()
