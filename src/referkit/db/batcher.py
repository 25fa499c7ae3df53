"""Group commit for the hot write paths (clicks and events).

Invariant: a submitter's ``await submit(item)`` returns only after the transaction holding its
row has committed, so a 302 or 2xx sent afterwards means "stored". Many concurrent submitters
share one transaction: whenever the writer is free it takes every queued item (up to
``max_size``, but never splitting one ``submit_many`` group; with ``max_delay`` > 0 it first
waits that long for more), and the domain's ``write_batch`` writes them with multi-row
statements and one rollup upsert, then commits.
Items that arrive while a batch is being written form the next batch, so batches grow with the
load and a lone request waits for no timer. With ``concurrency`` > 1 (PostgreSQL, where
transactions of different connections overlap) that many batches may be in flight at once.

This is the one place outside the request/worker/CLI boundaries that commits: ``write_batch``
owns its transaction (it opens and commits it itself) because the batch spans many requests.
If a batch fails as a whole, each of its items is written again in a transaction of its own,
so one bad item (or a lost race on a unique key) fails only its own submitter. Submitters that
are cancelled (client gone) do not cancel the write: their item is committed or failed all the
same. ``close`` drains the queue before returning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger("referkit.batcher")

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(Exception):
    """The batcher is shutting down and takes no more items."""


class GroupCommitter(Generic[T, R]):
    def __init__(
        self,
        name: str,
        write_batch: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]],
        *,
        max_size: int,
        max_delay: float = 0.0,
        concurrency: int = 1,
    ) -> None:
        self.name = name
        self.write_batch = write_batch
        self.max_size = max_size
        self.max_delay = max_delay
        # Each entry is one submitter's items and the future of their outcomes: a single item
        # (``submit``) or a group (``submit_many``) that is never split across batches.
        self._pending: list[tuple[Sequence[T], asyncio.Future[list[R | BaseException]]]] = []
        self._queued = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._slots = asyncio.Semaphore(concurrency)
        self._flushing: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"batcher-{self.name}")

    def _queue(self, items: Sequence[T]) -> asyncio.Future[list[R | BaseException]]:
        if self._closing or self._task is None:
            raise BatcherClosed(f"the {self.name} batcher is not running")
        future: asyncio.Future[list[R | BaseException]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        self._queued += len(items)
        self._wakeup.set()
        return future

    async def submit(self, item: T) -> R:
        """Queue ``item``; return its result once committed (or raise its error).

        A cancelled submitter cancels only its wait: the item is written all the same.
        """
        (outcome,) = await self._queue((item,))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def submit_many(self, items: Sequence[T]) -> list[R | BaseException]:
        """Queue ``items`` together (in one batch); each one's result or error, in order, once
        committed."""
        if not items:
            return []
        return await self._queue(items)

    async def close(self) -> None:
        """Take no more items; return once every queued item is committed or failed."""
        self._closing = True
        if self._task is None:
            return
        self._wakeup.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        try:
            await self._take_batches()
        finally:
            if self._flushing:
                await asyncio.wait(self._flushing)

    async def _take_batches(self) -> None:
        while True:
            if self._closing and not self._pending:
                return
            await self._wakeup.wait()
            await self._slots.acquire()  # a writer is free
            # Let the requests that are ready on this loop iteration join the batch.
            await asyncio.sleep(self.max_delay if self._queued < self.max_size else 0)
            count = taken = 0
            while taken < len(self._pending) and (
                count == 0 or count + len(self._pending[taken][0]) <= self.max_size
            ):
                count += len(self._pending[taken][0])
                taken += 1
            batch = self._pending[:taken]
            del self._pending[:taken]
            self._queued -= count
            if not self._pending:
                self._wakeup.clear()
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._flush(batch), name=f"batcher-{self.name}-flush")
            self._flushing.add(task)
            task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushing.discard(task)
        self._slots.release()

    async def _flush(
        self, batch: list[tuple[Sequence[T], asyncio.Future[list[R | BaseException]]]]
    ) -> None:
        try:
            try:
                results = await self._write(batch)
            except Exception:
                logger.exception("%s batcher: batch failed", self.name)
                return
            start = 0
            for entry, future in batch:
                end = start + len(entry)
                if not future.done():
                    future.set_result(results[start:end])
                start = end
        finally:
            # Whatever went wrong (a cancelled flush, a writer that broke its contract), no
            # submitter is left waiting: an outcome it never got is an error.
            for _, future in batch:
                if not future.done():
                    future.set_exception(BatcherClosed(f"the {self.name} batch was not written"))

    async def _write(
        self, batch: list[tuple[Sequence[T], asyncio.Future[list[R | BaseException]]]]
    ) -> list[R | BaseException]:
        items = [item for entry, _ in batch for item in entry]
        try:
            results = list(await self.write_batch(items))
        except Exception as exc:
            if len(items) == 1:
                logger.exception("%s batcher: write failed", self.name)
                return [exc]
            results = []
            for item in items:
                try:
                    results.extend(await self.write_batch([item]))
                except Exception as exc:
                    logger.exception("%s batcher: write failed", self.name)
                    results.append(exc)
        if len(results) != len(items):
            raise RuntimeError(f"{self.name} batcher: {len(results)} results for {len(items)}")
        return results
