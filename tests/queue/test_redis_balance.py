"""Redis queue load balancing: an idle worker takes a busy partition over, in order."""

from __future__ import annotations

import time

import pytest
from _queue_helpers import PARTITIONS, QueueFactory, drain, message, owns_all, wait_until

from safe_polling.queue import UpdateQueue, partition_of


@pytest.fixture
def backend() -> str:
    return "redis"


def _chats_in(partitions: frozenset[int], count: int) -> list[int]:
    """*count* chats, each in a different one of *partitions*."""
    found: dict[int, int] = {}
    chat = 1
    while len(found) < count:
        partition = partition_of(message(1, chat), PARTITIONS)
        if partition in partitions:
            found.setdefault(partition, chat)
        chat += 1
    return list(found.values())


async def _split(one: UpdateQueue, two: UpdateQueue) -> bool:
    a, b = await one.owned(), await two.owned()
    return len(a) == len(b) == PARTITIONS // 2 and not a & b


async def _two_workers(new_queue: QueueFactory) -> tuple[UpdateQueue, UpdateQueue]:
    """A worker that owned every partition, then a second one: half each."""
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    two = await new_queue()
    await wait_until(lambda: _split(one, two))
    return one, two


async def test_an_idle_worker_takes_a_busy_partition_over_in_order_without_a_delivery(
    new_queue: QueueFactory,
) -> None:
    one, two = await _two_workers(new_queue)
    chats = _chats_in(await one.owned(), 2)
    busy = {partition_of(message(1, chat), PARTITIONS) for chat in chats}
    await one.put([message(n * 10 + c, chat) for n in range(1, 9) for c, chat in enumerate(chats)])

    async def moved() -> bool:
        return bool(await two.owned() & busy)

    await wait_until(moved)  # two has no backlog, one has two busy partitions
    assert two.take_gained() & busy  # two reloads the state of the chats it took over
    got = await drain(one, 8) + await drain(two, 8)
    for chat in chats:
        ids = [i.update_id for i in got if i.update["message"]["chat"]["id"] == chat]
        assert ids == sorted(ids)
        assert len(ids) == 8
    # one had read them ahead, never handed them to a handler: no delivery counted
    assert all(i.deliveries == 1 for i in got)
    assert (await one.stats()).backlog == 0
    await wait_until(lambda: _split(one, two))  # two gives an idle partition back for it


async def test_workers_with_equal_backlogs_keep_their_partitions(
    new_queue: QueueFactory,
) -> None:
    one, two = await _two_workers(new_queue)
    before = (await one.owned(), await two.owned())
    chats = _chats_in(before[0], 2) + _chats_in(before[1], 2)
    await one.put([message(n * 10 + c, chat) for n in range(1, 6) for c, chat in enumerate(chats)])
    for _ in range(3):  # several balance periods: no move would narrow the gap
        since = time.monotonic()
        await wait_until(lambda s=since: _renewed_since(s, one, two))  # type: ignore[misc]
        assert (await one.owned(), await two.owned()) == before
    got = await drain(one, 10) + await drain(two, 10)
    assert all(i.deliveries == 1 for i in got)


def _renewed_since(since: float, *queues: UpdateQueue) -> bool:
    return all(q._last_rebalance > since for q in queues)  # type: ignore[attr-defined]
