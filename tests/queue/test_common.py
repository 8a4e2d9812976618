"""The contract every update-queue backend shares, run in-process and against real Redis."""

from __future__ import annotations

import asyncio
import logging

import pytest
from _queue_helpers import (
    PARTITIONS,
    TTL,
    WAIT,
    QueueFactory,
    drain,
    message,
    owns_all,
    wait_until,
)

from safe_polling.queue import UpdateQueue


async def test_each_chats_updates_come_out_in_order_and_acks_empty_the_backlog(
    new_queue: QueueFactory,
) -> None:
    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    updates = [message(n, chat=100 + n % 5) for n in range(1, 51)]
    await queue.put(updates)
    assert (await queue.stats()).backlog == 50
    got = await drain(queue, 50)
    for chat in range(100, 105):
        ids = [i.update_id for i in got if i.update["message"]["chat"]["id"] == chat]
        assert ids == sorted(ids)
        assert len(ids) == 10
    stats = await queue.stats()
    assert (stats.backlog, stats.handled, stats.oldest_age) == (0, 50, 0.0)
    assert all(i.deliveries == 1 for i in got)


async def test_a_chats_next_update_waits_for_the_previous_ack(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    await queue.put([message(1, chat=7), message(2, chat=7)])
    first = await queue.take(timeout=WAIT)
    assert first is not None
    assert first.update_id == 1
    assert await queue.take(timeout=0.3) is None  # 2 waits: 1 is not acknowledged
    await queue.ack(first)
    second = await queue.take(timeout=WAIT)
    assert second is not None
    assert second.update_id == 2


async def test_different_chats_are_taken_while_one_is_in_flight(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    chats = _chats_in_distinct_partitions(2)
    await queue.put([message(1, chat=chats[0]), message(2, chat=chats[1])])
    first = await queue.take(timeout=WAIT)
    second = await queue.take(timeout=WAIT)
    assert first is not None
    assert second is not None
    assert {first.update_id, second.update_id} == {1, 2}


def _chats_in_distinct_partitions(count: int) -> list[int]:
    from safe_polling.queue import partition_of

    chats: dict[int, int] = {}
    chat = 1
    while len(chats) < count:
        chats.setdefault(partition_of(message(1, chat), PARTITIONS), chat)
        chat += 1
    return list(chats.values())


async def test_two_workers_split_the_partitions(new_queue: QueueFactory) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    two = await new_queue()

    async def split() -> bool:
        a, b = await one.owned(), await two.owned()
        return len(a) == len(b) == PARTITIONS // 2 and not a & b

    await wait_until(split)


async def test_a_leaving_worker_hands_its_unacked_update_over_first(
    new_queue: QueueFactory,
) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    await one.put([message(1, chat=9), message(2, chat=9)])
    taken = await one.take(timeout=WAIT)
    assert taken is not None
    assert taken.update_id == 1
    two = await new_queue()
    await one.aclose()  # SIGTERM path: leave without acknowledging
    got = await drain(two, 2)
    assert [i.update_id for i in got] == [1, 2]
    assert got[0].deliveries == 2


async def test_a_crashed_workers_partitions_move_within_the_ttl(new_queue: QueueFactory) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    await one.put([message(1, chat=11), message(2, chat=11)])
    taken = await one.take(timeout=WAIT)
    assert taken is not None
    two = await new_queue()
    await one.abandon()  # type: ignore[attr-defined]  # SIGKILL: nothing handed over
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_until(lambda: owns_all(two))
    moved_after = loop.time() - started
    assert two.take_gained() == frozenset(range(PARTITIONS))  # workers reload their chats' state
    assert two.take_gained() == frozenset()
    # The stated bound: the TTL plus one renewal period, plus slack for a loaded machine.
    assert moved_after < TTL + TTL / 3 + 2.0
    got = await drain(two, 2)
    assert [i.update_id for i in got] == [1, 2]


async def test_an_update_that_kills_its_workers_goes_to_the_dead_letters(
    new_queue: QueueFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="safe_polling.queue")
    poison, after = message(1, chat=13), message(2, chat=13)
    worker = await new_queue(max_deliveries=2)
    await worker.put([poison, after])
    for _ in range(2):
        await wait_until(lambda w=worker: owns_all(w))  # type: ignore[misc]
        taken = await worker.take(timeout=WAIT)
        assert taken is not None
        assert taken.update_id == 1
        await worker.aclose()  # dies holding it (a clean leave counts the same)
        worker = await new_queue(max_deliveries=2)
    await wait_until(lambda: owns_all(worker))
    got = await drain(worker, 1)
    assert [i.update_id for i in got] == [2]
    stats = await worker.stats()
    assert (stats.backlog, stats.dead_letters) == (0, 1)
    lines = [r.getMessage() for r in caplog.records if "dead-letter" in r.getMessage()]
    assert len(lines) == 1
    assert "Update 1 was handed out 2 times" in lines[0]


async def test_wait_for_room_holds_the_poller_at_the_backlog_bound(
    new_queue: QueueFactory,
) -> None:
    queue = await new_queue(max_backlog=3)
    await wait_until(lambda: owns_all(queue))
    await queue.put([message(n, chat=n) for n in range(1, 4)])
    waiter = asyncio.create_task(queue.wait_for_room())
    await asyncio.sleep(0.3)  # give a wrong implementation time to return early
    assert not waiter.done()
    await drain(queue, 1)
    async with asyncio.timeout(WAIT):
        await waiter


async def test_stats_show_the_age_of_the_oldest_unhandled_update(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    await queue.put([message(1, chat=1)])
    await wait_until(lambda: _older_than(queue, 0.2))
    stats = await queue.stats()
    assert stats.backlog == 1
    assert stats.partitions_owned == PARTITIONS
    assert stats.handled == 0


async def _older_than(queue: UpdateQueue, seconds: float) -> bool:
    return (await queue.stats()).oldest_age >= seconds
