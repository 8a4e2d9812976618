"""An in-process update queue: the same contract as Redis Streams, for tests and one process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

from safe_polling._tasks import cancel_and_wait
from safe_polling.queue._base import QueuedUpdate, QueueStats, UpdateQueue, partition_of

__all__ = ["MemoryBroker", "MemoryQueue"]


@dataclasses.dataclass
class _Entry:
    entry_id: str
    update: dict[str, Any]
    enqueued_at: float
    deliveries: int = 0


class MemoryBroker:
    """The state several :class:`MemoryQueue` workers of one process share.

    Plays the part of the Redis server: one deque of unacknowledged entries per
    partition, partition owners with a deadline, live workers with a deadline.

    Args:
        partitions: How many partitions.

    .. versionadded:: 0.1.0
    """

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.streams: list[deque[_Entry]] = [deque() for _ in range(partitions)]
        self.owners: dict[int, tuple[str, float]] = {}  # partition -> (worker, deadline)
        self.members: dict[str, float] = {}  # worker -> deadline
        self.dead_letters: list[dict[str, Any]] = []
        self._next_id = 0
        self._changed: asyncio.Event | None = None

    def next_id(self) -> str:
        """A fresh entry id, increasing."""
        self._next_id += 1
        return str(self._next_id)

    @property
    def changed(self) -> asyncio.Event:
        """Set whenever something a waiting worker may take appears."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def owner(self, partition: int, now: float) -> str | None:
        """The live owner of *partition*, or :obj:`None`."""
        held = self.owners.get(partition)
        if held is None or held[1] <= now:
            return None
        return held[0]

    def live_members(self, now: float) -> int:
        """How many workers renewed their membership within the TTL."""
        return sum(1 for deadline in self.members.values() if deadline > now)


class MemoryQueue(UpdateQueue):
    """An in-process :class:`UpdateQueue`; workers sharing a :class:`MemoryBroker` share updates.

    Useful in tests and to run the queue's code path in one process; it is not
    durable: a process exit loses its backlog.

    Args:
        broker: The shared state (default: a new one, this queue alone).
        **options: See :class:`UpdateQueue`.

    Example:
        >>> import asyncio
        >>> async def demo():
        ...     async with MemoryQueue(partitions=2) as queue:
        ...         await queue.put([{"update_id": 1, "message": {"chat": {"id": 7}}}])
        ...         item = await queue.take(timeout=1)
        ...         await queue.ack(item)
        ...         return item.update_id, (await queue.stats()).backlog
        >>> asyncio.run(demo())
        (1, 0)

    .. versionadded:: 0.1.0
    """

    def __init__(self, broker: MemoryBroker | None = None, **options: Any) -> None:
        if broker is not None:
            options.setdefault("partitions", broker.partitions)
        super().__init__(**options)
        self.broker = broker if broker is not None else MemoryBroker(self.partitions)
        if self.broker.partitions != self.partitions:
            raise ValueError("partitions must match the broker's")
        self.worker = f"memory-{uuid.uuid4().hex[:8]}"
        self._in_flight: set[int] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        self._closed = False
        self._rebalance()
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ownership_ttl / 3)
            self._rebalance()

    def _rebalance(self) -> None:
        """Renew membership and ownership; claim free partitions up to a fair share, give
        back the surplus that is not in flight."""
        now = time.monotonic()
        broker = self.broker
        broker.members[self.worker] = now + self.ownership_ttl
        mine = [p for p in range(self.partitions) if broker.owner(p, now) == self.worker]
        for partition in mine:
            broker.owners[partition] = (self.worker, now + self.ownership_ttl)
        share = self.fair_share(broker.live_members(now))
        for partition in range(self.partitions):
            if len(mine) >= share:
                break
            if broker.owner(partition, now) is None:
                broker.owners[partition] = (self.worker, now + self.ownership_ttl)
                mine.append(partition)
                self._gained.add(partition)
                broker.changed.set()
        surplus = [p for p in mine if p not in self._in_flight][: max(0, len(mine) - share)]
        for partition in surplus:
            self._give_back(partition)

    def _give_back(self, partition: int) -> None:
        if self.broker.owner(partition, time.monotonic()) == self.worker:
            del self.broker.owners[partition]
            self.broker.changed.set()

    async def put(self, updates: Sequence[dict[str, Any]]) -> None:
        now = time.time()
        for update in updates:
            entry = _Entry(self.broker.next_id(), dict(update), now)
            self.broker.streams[partition_of(update, self.partitions)].append(entry)
        self.broker.changed.set()

    async def take(self, timeout: float) -> QueuedUpdate | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            item = self._next()
            if item is not None:
                return item
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self.broker.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.broker.changed.wait(), min(remaining, 0.1))

    def _next(self) -> QueuedUpdate | None:
        """The oldest takeable entry among the owned partitions with nothing in flight."""
        now = time.monotonic()
        while True:
            candidates = [
                (stream[0], partition)
                for partition, stream in enumerate(self.broker.streams)
                if stream
                and partition not in self._in_flight
                and self.broker.owner(partition, now) == self.worker
            ]
            if not candidates:
                return None
            entry, partition = min(candidates, key=lambda c: int(c[0].entry_id))
            if entry.deliveries >= self.max_deliveries:
                self.broker.streams[partition].popleft()
                self.broker.dead_letters.append(entry.update)
                self.dead_letter_log(self._item(entry, partition))
                continue
            entry.deliveries += 1
            self._in_flight.add(partition)
            return self._item(entry, partition)

    @staticmethod
    def _item(entry: _Entry, partition: int) -> QueuedUpdate:
        return QueuedUpdate(
            update=entry.update,
            partition=partition,
            entry_id=entry.entry_id,
            deliveries=entry.deliveries,
            enqueued_at=entry.enqueued_at,
        )

    async def ack(self, item: QueuedUpdate) -> None:
        stream = self.broker.streams[item.partition]
        for entry in stream:
            if entry.entry_id == item.entry_id:
                stream.remove(entry)
                self.handled += 1
                break
        self._in_flight.discard(item.partition)
        self.broker.changed.set()

    async def stats(self) -> QueueStats:
        entries = [entry for stream in self.broker.streams for entry in stream]
        oldest = min((entry.enqueued_at for entry in entries), default=None)
        return QueueStats(
            backlog=len(entries),
            oldest_age=0.0 if oldest is None else max(0.0, time.time() - oldest),
            partitions_owned=len(await self.owned()),
            handled=self.handled,
            dead_letters=len(self.broker.dead_letters),
        )

    async def owned(self) -> frozenset[int]:
        now = time.monotonic()
        return frozenset(
            p for p in range(self.partitions) if self.broker.owner(p, now) == self.worker
        )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stop_renewing()
        self.broker.members.pop(self.worker, None)
        for partition in range(self.partitions):
            self._give_back(partition)
        self._in_flight.clear()

    async def _stop_renewing(self) -> None:
        if self._renewer is not None:
            await cancel_and_wait(self._renewer)
            self._renewer = None

    async def abandon(self) -> None:
        """Stop as a killed process would: renew nothing, hand nothing over (for tests).

        .. versionadded:: 0.1.0
        """
        self._closed = True
        await self._stop_renewing()

    def describe(self) -> str:
        return f"in-process queue ({self.partitions} partitions)"
