"""The Redis Streams queue beyond the shared contract: its errors and its dead-letter stream."""

from __future__ import annotations

import asyncio

import pytest
from _queue_helpers import PARTITIONS, TOKEN, WAIT, QueueFactory, message, owns_all, wait_until

from safe_polling.queue import QueueError, RedisQueue

PASSWORD = "s3cr3t-redis-pass"
# Nothing listens on port 1 of the loopback: every call is refused at once.
UNREACHABLE = f"redis://:{PASSWORD}@127.0.0.1:1/0"


@pytest.fixture
def backend() -> str:
    return "redis"


def test_a_url_of_another_scheme_is_refused() -> None:
    with pytest.raises(QueueError) as caught:
        RedisQueue(f"http://u:{PASSWORD}@cache/", bot_id=TOKEN)
    assert str(caught.value) == "the queue URL must start with redis://, rediss:// or unix://"


def test_the_description_names_the_server_and_keys_only() -> None:
    queue = RedisQueue(f"redis://:{PASSWORD}@cache.internal", bot_id=TOKEN, name="q")
    assert queue.describe() == (
        "redis queue on cache.internal:6379 (safe-polling:queue:987654321:q, 16 partitions)"
    )


async def test_an_unreachable_server_is_one_queue_error_without_the_password() -> None:
    queue = RedisQueue(UNREACHABLE, bot_id=TOKEN, name="q")
    where = "redis queue on 127.0.0.1:1/0 (safe-polling:queue:987654321:q, 16 partitions)"
    try:
        with pytest.raises(QueueError) as joining:
            await queue.start()
        assert str(joining.value) == f"{where}: unreachable (ConnectionError)"
        with pytest.raises(QueueError) as appending:
            await queue.put([message(1, chat=1)])
        assert str(appending.value) == f"{where}: appending updates failed (ConnectionError)"
        with pytest.raises(QueueError) as reading:
            await queue.stats()
        assert str(reading.value) == f"{where}: reading the backlog failed (ConnectionError)"
        for error in (joining, appending, reading):
            assert PASSWORD not in str(error.value)
            assert error.value.__cause__ is None
    finally:
        await queue.aclose()


async def test_nothing_to_append_is_no_round_trip() -> None:
    queue = RedisQueue(UNREACHABLE, bot_id=TOKEN, name="q")
    try:
        await queue.put([])  # would fail if it reached the server
    finally:
        await queue.aclose()


async def test_dead_letters_hold_the_update_as_telegram_sent_it(new_queue: QueueFactory) -> None:
    poison = message(1, chat=13)
    first = await new_queue(max_deliveries=1)
    await wait_until(lambda: owns_all(first))
    await first.put([poison, message(2, chat=13)])
    taken = await first.take(timeout=WAIT)
    assert taken is not None
    await first.aclose()  # dies holding it
    second = await new_queue(max_deliveries=1)
    await wait_until(lambda: owns_all(second))
    after = await second.take(timeout=WAIT)
    assert after is not None
    assert after.update_id == 2
    assert isinstance(second, RedisQueue)
    assert await second.dead_letters() == [poison]
    await second.ack(after)
    # Nothing left pending in the consumer group either: the poison entry was acknowledged.
    client = second._redis()
    stream = second._stream(taken.partition)
    assert (await client.xpending(stream, "workers"))["pending"] == 0


async def test_leaving_hands_every_partition_over_at_once(
    new_queue: QueueFactory, redis_url: str
) -> None:
    from redis.asyncio import Redis

    one = await new_queue()
    await wait_until(lambda: owns_all(one))
    assert isinstance(one, RedisQueue)
    prefix = one._prefix
    await one.aclose()
    # Not left to expire after the TTL: the next worker may claim them at once.
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert [await client.get(f"{prefix}:o:{p}") for p in range(PARTITIONS)] == [
            None
        ] * PARTITIONS
        assert await client.zscore(f"{prefix}:members", one.worker) is None
    finally:
        await client.aclose()


async def test_a_waiting_take_is_woken_by_a_new_and_by_a_taken_over_update(
    new_queue: QueueFactory,
) -> None:
    # One partition: nothing else the pump does would wake the waiting take().
    one = await new_queue(partitions=1)
    await wait_until(lambda: one.owned())
    waiting = asyncio.create_task(one.take(timeout=10 * WAIT))
    await asyncio.sleep(0.2)  # parked on its wait
    await one.put([message(1, chat=3), message(2, chat=3)])
    assert await asyncio.wait_for(waiting, WAIT) is not None  # woken by the read
    two = await new_queue(partitions=1)
    waiting = asyncio.create_task(two.take(timeout=10 * WAIT))
    await one.aclose()  # leaves holding update 1
    handed = await asyncio.wait_for(waiting, WAIT)
    assert handed is not None
    assert (handed.update_id, handed.deliveries) == (1, 2)


async def test_a_redis_that_lost_the_consumer_groups_gets_them_again(
    new_queue: QueueFactory, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from redis.asyncio import Redis

    queue = await new_queue()
    await wait_until(lambda: owns_all(queue))
    assert isinstance(queue, RedisQueue)
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        for partition in range(PARTITIONS):  # as after a restart without persistence
            await client.xgroup_destroy(queue._stream(partition), "workers")
    finally:
        await client.aclose()
    await queue.put([message(1, chat=3)])
    item = await queue.take(timeout=WAIT)
    assert item is not None
    assert item.update_id == 1
    assert any("Update queue unavailable" in r.getMessage() for r in caplog.records)


async def test_a_buffer_run_empty_is_read_again_at_once_not_after_the_idle_wait(
    new_queue: QueueFactory, redis_url: str
) -> None:
    from redis.asyncio import Redis

    # One partition: its buffer holds one update at a time, and taking it empties it.
    queue = await new_queue(partitions=1)
    await wait_until(lambda: queue.owned())
    client = Redis.from_url(redis_url)
    trips = []
    try:
        await client.ping()
        for update_id in range(1, 6):
            await queue.put([message(update_id, chat=3)])
            # Counted in round trips to the server, not in seconds: woken when the last
            # take emptied its buffer, the pump is already reading and gets the update
            # within a few; left to its idle wait (_BLOCK_MS), it reads again only after
            # a hundred or more.
            count = 0
            async with asyncio.timeout(WAIT):
                while (item := await queue.take(timeout=0)) is None:
                    await client.ping()
                    count += 1
            assert item.update_id == update_id
            await queue.ack(item)
            trips.append(count)
    finally:
        await client.aclose()
    assert sum(trips[1:]) <= 40, trips  # the first one: the pump was reading already
