"""The contract every update-queue backend shares, run in-process and against real Redis."""

from __future__ import annotations

import asyncio
import logging
import time

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

from safe_polling.queue import QueuedUpdate, UpdateQueue, partition_of


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
    assert await two.take(timeout=0.3) is None  # each handed out once
    assert (await two.stats()).backlog == 0


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
    before = time.time()
    await queue.put([message(1, chat=1)])
    after = time.time()
    age = (await queue.stats()).oldest_age
    # No older than the time since just before the put (Redis stamps in milliseconds).
    assert 0.0 <= age <= time.time() - before + 0.002
    await asyncio.sleep(0.3)
    age = (await queue.stats()).oldest_age
    assert time.time() - after - 0.002 <= age <= time.time() - before + 0.002
    await wait_until(lambda: _older_than(queue, 0.2))
    stats = await queue.stats()
    assert stats.backlog == 1
    assert stats.partitions_owned == PARTITIONS
    assert stats.handled == 0


async def _older_than(queue: UpdateQueue, seconds: float) -> bool:
    return (await queue.stats()).oldest_age >= seconds


async def test_a_busy_partition_moves_to_a_joining_worker_only_after_its_ack(
    new_queue: QueueFactory,
) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    chats = _chats_in_distinct_partitions(PARTITIONS)
    firsts = [message(n, chat=chat) for n, chat in enumerate(chats, 1)]
    seconds = [message(n + 100, chat=chat) for n, chat in enumerate(chats, 1)]
    await one.put(firsts + seconds)
    taken = [await one.take(timeout=WAIT) for _ in chats]
    assert sorted(i.update_id for i in taken if i is not None) == list(range(1, 9))
    two = await new_queue()
    # A second update taken now would overtake its chat's first, still in flight.
    assert await two.take(timeout=2 * TTL) is None
    assert await one.take(timeout=0.1) is None
    for item in taken:
        assert item is not None
        await one.ack(item)
    later: list[QueuedUpdate] = []
    async with asyncio.timeout(WAIT):
        while len(later) < len(seconds):
            for worker in (one, two):
                item = await worker.take(timeout=0.05)
                if item is not None:
                    later.append(item)
                    await worker.ack(item)
    assert sorted(i.update_id for i in later) == list(range(101, 109))

    async def split() -> bool:
        return len(await one.owned()) == len(await two.owned()) == PARTITIONS // 2

    await wait_until(split)
    assert (await one.stats()).backlog == 0


async def test_with_nothing_in_flight_the_oldest_update_of_any_chat_comes_first(
    new_queue: QueueFactory,
) -> None:
    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    chats = sorted(_chats_in_distinct_partitions(PARTITIONS), key=_partition, reverse=True)
    for n, chat in enumerate(chats, 1):  # appended one by one, highest partition first
        await queue.put([message(n, chat=chat)])
    got = [item.update_id for item in await drain(queue, len(chats))]
    assert got == list(range(1, len(chats) + 1))


def _partition(chat: int) -> int:
    return partition_of(message(1, chat), PARTITIONS)


async def test_a_live_worker_keeps_its_partitions_past_the_ttl(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    assert queue.take_gained() == frozenset(range(PARTITIONS))
    await asyncio.sleep(3 * TTL)  # several renewals, and as long as an unrenewed claim lasts
    assert await owns_all(queue)
    assert queue.take_gained() == frozenset()  # never lost, so never gained again


async def test_three_workers_split_the_partitions_as_evenly_as_the_count_allows(
    new_queue: QueueFactory,
) -> None:
    workers = [await new_queue()]
    await wait_until(lambda: owns_all(workers[0]))
    workers.append(await new_queue())
    await wait_until(lambda: split_as(workers, [4, 4]))
    # The third joins last: each of the others then gives back exactly one partition.
    workers.append(await new_queue())
    await wait_until(lambda: split_as(workers, [2, 3, 3]))


async def split_as(workers: list[UpdateQueue], sizes: list[int]) -> bool:
    """Whether *workers* own the partitions in these numbers, none owned twice."""
    owned = [await worker.owned() for worker in workers]
    every = [p for partitions in owned for p in partitions]
    return sorted(map(len, owned)) == sizes and len(set(every)) == PARTITIONS


async def test_a_worker_that_left_can_join_again(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    await queue.aclose()
    await queue.start()
    await wait_until(lambda: owns_all(queue))
    await asyncio.sleep(2 * TTL)  # renewed again, not only claimed once
    assert await owns_all(queue)
    await queue.put([message(1, chat=5)])
    assert [item.update_id for item in await drain(queue, 1)] == [1]


async def test_while_a_worker_joins_mid_stream_each_update_is_handed_out_once_in_order(
    new_queue: QueueFactory,
) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    chats = _chats_in_distinct_partitions(PARTITIONS)
    rounds = 10
    await one.put(
        [
            message(1 + r * PARTITIONS + n, chat=chat)
            for r in range(rounds)
            for n, chat in enumerate(chats)
        ]
    )
    taken: list[QueuedUpdate] = []
    stop = asyncio.Event()

    async def work(queue: UpdateQueue) -> None:
        while not stop.is_set():
            item = await queue.take(timeout=0.05)
            if item is not None:
                taken.append(item)
                await asyncio.sleep(0.01)  # a short handler
                await queue.ack(item)

    workers = [asyncio.create_task(work(one))]
    await wait_until(lambda: len(taken) >= PARTITIONS)
    workers.append(asyncio.create_task(work(await new_queue())))  # joins mid-stream
    try:
        await wait_until(lambda: len({i.update_id for i in taken}) == rounds * PARTITIONS)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert sorted(i.update_id for i in taken) == list(range(1, rounds * PARTITIONS + 1))
    for chat in chats:
        ids = [i.update_id for i in taken if i.update["message"]["chat"]["id"] == chat]
        assert ids == sorted(ids)


async def test_a_joining_worker_gets_idle_partitions_and_the_busy_one_stays(
    new_queue: QueueFactory,
) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    await one.put([message(1, chat=21)])
    busy = await one.take(timeout=WAIT)
    assert busy is not None
    two = await new_queue()

    async def split() -> bool:
        return len(await one.owned()) == len(await two.owned()) == PARTITIONS // 2

    await wait_until(split)  # without waiting for the busy partition's ack
    assert busy.partition in await one.owned()
    await one.ack(busy)


async def test_a_partition_that_comes_back_brings_its_unacked_update(
    new_queue: QueueFactory,
) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    two = await new_queue()

    async def split() -> bool:
        return len(await one.owned()) == len(await two.owned()) == PARTITIONS // 2

    await wait_until(split)
    theirs = await two.owned()
    chat = next(c for c in range(1, 1000) if _partition(c) in theirs)
    await one.put([message(1, chat=chat)])
    taken = await two.take(timeout=WAIT)
    assert taken is not None
    await two.aclose()  # leaves holding it: the partition returns to its first owner
    got = await drain(one, 1)
    assert [(i.update_id, i.deliveries) for i in got] == [(1, 2)]


async def test_a_waiting_take_is_woken_by_a_new_or_handed_over_update(
    new_queue: QueueFactory,
) -> None:
    long = 10 * WAIT  # far longer than the bound below: only a wake-up returns in time
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    waiting = asyncio.create_task(one.take(timeout=long))
    await asyncio.sleep(0.2)  # parked on its wait
    await one.put([message(1, chat=3), message(2, chat=3)])
    first = await asyncio.wait_for(waiting, WAIT)
    assert first is not None
    assert first.update_id == 1
    two = await new_queue()
    waiting = asyncio.create_task(two.take(timeout=long))
    await one.aclose()  # hands 1 (unacknowledged) and 2 over to the waiting worker
    handed = await asyncio.wait_for(waiting, WAIT)
    assert handed is not None
    assert handed.update_id == 1


async def test_an_update_read_ahead_counts_only_the_times_it_was_handed_out(
    new_queue: QueueFactory,
) -> None:
    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    await one.put([message(1, chat=17), message(2, chat=17)])
    assert await one.take(timeout=WAIT) is not None  # 2 may be read ahead, not handed out
    two = await new_queue()
    await one.aclose()
    await wait_until(lambda: owns_all(two))
    first = await two.take(timeout=WAIT)
    assert first is not None
    assert (first.update_id, first.deliveries) == (1, 2)
    await two.ack(first)
    second = await two.take(timeout=WAIT)
    assert second is not None
    assert (second.update_id, second.deliveries) == (2, 1)
    three = await new_queue()
    await two.aclose()  # leaves holding 2: its second hand-out is the next
    await wait_until(lambda: owns_all(three))
    again = await three.take(timeout=WAIT)
    assert again is not None
    assert (again.update_id, again.deliveries) == (2, 2)
