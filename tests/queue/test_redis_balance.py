"""Redis queue load balancing: an idle worker takes a busy partition over, in order."""

from __future__ import annotations

import functools
import time

import pytest
from _queue_helpers import PARTITIONS, WAIT, QueueFactory, drain, message, owns_all, wait_until

from safe_polling.queue import RedisQueue, UpdateQueue, partition_of


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


async def test_a_worker_over_its_share_gives_back_idle_partitions_not_one_with_backlog(
    new_queue: QueueFactory,
) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    (chat,) = _chats_in(frozenset({0}), 1)
    await one.put([message(1, chat), message(2, chat)])  # one busy partition: nobody asks for it
    two = await new_queue()
    await wait_until(lambda: _split(one, two))
    # The lowest partitions go back first, but not the busy one: its chat stays where it is.
    assert 0 in await one.owned()
    assert [i.update_id for i in await drain(one, 2)] == [1, 2]


async def test_a_partition_asked_for_is_handed_over_at_the_ack_of_its_update_in_flight(
    new_queue: QueueFactory, redis_url: str
) -> None:
    from redis.asyncio import Redis

    # A TTL far above the test's length: the ask (a key with that TTL) stays until the ack.
    one, two = await _two_workers(functools.partial(new_queue, ownership_ttl=10.0))
    mine = await one.owned()
    asked_for, second, third = _chats_in(mine, 3)
    partition = partition_of(message(1, asked_for), PARTITIONS)
    await one.put([message(1, asked_for)])
    in_flight = await one.take(timeout=WAIT)
    assert in_flight is not None
    assert in_flight.partition == partition
    # Now its longest partition, 4 of one's 8: two (no backlog) asks for it.
    await one.put(
        [message(n, asked_for) for n in (2, 3, 4)]
        + [message(n, second) for n in (5, 6, 7)]
        + [message(8, third)]
    )

    async def given_back() -> bool:
        return partition not in await one.owned()

    await wait_until(given_back)
    assert isinstance(one, RedisQueue)
    assert isinstance(two, RedisQueue)
    owner_key = f"{one._prefix}:o:{partition}"
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.get(f"{one._prefix}:w:{partition}") == two.worker
        for _ in range(3):  # several balance periods while its update is in flight
            since = time.monotonic()
            await wait_until(lambda s=since: _renewed_since(s, one, two))  # type: ignore[misc]
            # Still one's until the ack; the three others stay too: one holds its share,
            # the partition it hands over does not count as a surplus to give back.
            assert await client.get(owner_key) == one.worker
            assert await one.owned() == mine - {partition}
        await one.ack(in_flight)
        # Handed over at the ack itself, not at one's next balancing.
        assert await client.get(owner_key) == two.worker
    finally:
        await client.aclose()

    async def taken_over() -> bool:
        return partition in await two.owned()

    await wait_until(taken_over)
    got = await drain(two, 3)
    assert [(i.update_id, i.deliveries) for i in got] == [(2, 1), (3, 1), (4, 1)]
