"""The Redis queue when the link to its server fails: frozen, late, cut, down, a reply lost,
a pipeline cut in half."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _queue_helpers import WAIT, QueueFactory, drain, message, owns_all, wait_until
from _redis_proxy import RedisProxy

from safe_polling.queue import QueueError, RedisQueue

# How long a stop waits for the pump to finish its read before cancelling it: _BLOCK_MS
# and 5 s (a bound on a timer, with slack for a loaded machine, not a speed claim).
STOP_BUDGET = 5.1
SOCKET_TIMEOUT = 5.0  # the client's, for a server that stops answering


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
async def proxy(new_queue: QueueFactory, redis_url: str) -> AsyncIterator[RedisProxy]:
    """A proxy to the test Redis; closed (every connection reset) before the queues are."""
    proxy = RedisProxy(redis_url)
    await proxy.start()
    yield proxy
    await proxy.aclose()


async def test_a_stop_cancels_a_pump_stuck_on_a_server_that_stopped_answering(
    new_queue: QueueFactory, proxy: RedisProxy
) -> None:
    # A socket timeout from the URL longer than the stop's budget (_BLOCK_MS + 5 s): the
    # pump's read would wait a minute for an answer that never comes.
    queue = await new_queue(via=proxy.url(socket_timeout=60))
    await wait_until(lambda: owns_all(queue))
    assert isinstance(queue, RedisQueue)
    pump = queue._pump
    assert pump is not None
    proxy.freeze()
    await wait_until(lambda: proxy.swallowed > 0)  # the pump waits for a lost answer now

    async def stop() -> bool:
        await queue._stop_pump()
        return pump.done()  # looked at as the stop returns, before the loop turns again

    # Waited on, not under a timeout: a timeout would cancel the pump through the stop.
    stopping = asyncio.create_task(stop())
    done, _ = await asyncio.wait({stopping}, timeout=STOP_BUDGET + 2.5)
    assert stopping in done  # the stop's budget and some slack, not the socket's minute
    assert stopping.result()  # the pump had finished when the stop returned
    assert pump.cancelled()
    await queue.abandon()


async def test_a_stop_waits_for_a_read_answered_late_instead_of_cancelling_it(
    new_queue: QueueFactory, proxy: RedisProxy
) -> None:
    # redis-py can hang when a blocking read is cancelled: on a server that answers, the
    # stop lets the pump finish its read and cancels only a pump that is stuck.
    queue = await new_queue(via=proxy.url())
    await wait_until(lambda: owns_all(queue))
    assert isinstance(queue, RedisQueue)
    pump = queue._pump
    assert pump is not None
    proxy.hold()
    await wait_until(lambda: proxy.held)  # the pump waits for the answer to its read
    closing = asyncio.create_task(queue.aclose())
    await wait_until(lambda: queue._stopping or queue._pump is None)  # the stop has begun
    proxy.release()
    await asyncio.wait_for(closing, WAIT)
    assert pump.done()
    assert not pump.cancelled()


async def test_a_reply_lost_with_its_connection_is_read_again_without_a_delivery_counted(
    new_queue: QueueFactory, proxy: RedisProxy, redis_url: str
) -> None:
    from redis.asyncio import Redis

    queue = await new_queue(via=proxy.url(), partitions=1)
    await wait_until(lambda: queue.owned())
    assert isinstance(queue, RedisQueue)
    proxy.lose_reply_with(b"lost-with-its-connection")
    await queue.put([message(1, chat=3, text="lost-with-its-connection")])
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        stream = queue._stream(0)

        async def read_by_the_pump() -> bool:  # pending to the worker, its answer lost
            return bool((await client.xpending(stream, "workers"))["pending"] == 1)

        await wait_until(read_by_the_pump)
        proxy.cut()  # the pump's read fails; the server still counts the entry as read
        item = await queue.take(timeout=WAIT)
        assert item is not None
        # Its own pending entry, claimed again: the handler never saw it, no delivery counted.
        assert (item.update_id, item.deliveries) == (1, 1)
        await queue.ack(item)
        assert (await client.xpending(stream, "workers"))["pending"] == 0
    finally:
        await client.aclose()


async def test_a_server_that_is_down_is_retried_with_a_pause_and_the_queue_carries_on(
    new_queue: QueueFactory, proxy: RedisProxy
) -> None:
    queue = await new_queue(via=proxy.url())
    await wait_until(lambda: owns_all(queue))
    proxy.go_down()
    before = proxy.accepted
    await asyncio.sleep(1.0)  # the window in which the retries are counted
    # Each retry is one connection; they back off from 0.1 s to a third of the TTL
    # (about 5 in this second). Without a pause the pump would try again at once.
    assert 1 <= proxy.accepted - before <= 20
    proxy.restore()
    await queue.put([message(1, chat=3)])
    item = await queue.take(timeout=WAIT)
    assert item is not None
    assert item.update_id == 1


async def test_a_call_on_a_server_that_stopped_answering_fails_after_the_socket_timeout(
    new_queue: QueueFactory, proxy: RedisProxy
) -> None:
    queue = await new_queue(via=proxy.url())
    await wait_until(lambda: owns_all(queue))
    await queue.put([message(1, chat=3)])  # leaves a connection in the pool to use again
    proxy.freeze()
    appending = asyncio.create_task(queue.put([message(2, chat=3)]))
    # The socket timeout (5 s) and some slack for a loaded machine, not a speed claim.
    done, _ = await asyncio.wait({appending}, timeout=SOCKET_TIMEOUT + 2.5)
    assert appending in done
    error = appending.exception()
    assert isinstance(error, QueueError)
    assert str(error).endswith(": appending updates failed (TimeoutError)")


async def test_a_put_cut_off_halfway_appends_nothing(
    new_queue: QueueFactory, proxy: RedisProxy
) -> None:
    queue = await new_queue(via=proxy.url())
    await wait_until(lambda: owns_all(queue))
    updates = [message(1, chat=3), message(2, chat=3)]
    proxy.cut_request_before(b"XADD", occurrence=2)  # the server gets the first append only
    with pytest.raises(QueueError, match=r": appending updates failed \(ConnectionError\)$"):
        await queue.put(updates)
    # All or nothing: the poller puts them again, and none is handled twice.
    assert (await queue.stats()).backlog == 0
    await queue.put(updates)
    assert [i.update_id for i in await drain(queue, 2)] == [1, 2]
    assert (await queue.stats()).backlog == 0


async def test_an_ack_cut_off_halfway_leaves_the_update_to_be_handled_again(
    new_queue: QueueFactory, proxy: RedisProxy
) -> None:
    first = await new_queue(via=proxy.url())
    await wait_until(lambda: owns_all(first))
    await first.put([message(1, chat=3)])
    item = await first.take(timeout=WAIT)
    assert item is not None
    proxy.cut_request_before(b"XDEL")  # acknowledged but not deleted, were it not one MULTI
    with pytest.raises(QueueError, match=r": acknowledging updates failed \(ConnectionError\)$"):
        await first.ack(item)
    assert isinstance(first, RedisQueue)
    await first.abandon()  # dies before acknowledging it again
    second = await new_queue()
    again = await second.take(timeout=WAIT)
    assert again is not None
    assert (again.update_id, again.deliveries) == (1, 2)
    await second.ack(again)
    assert (await second.stats()).backlog == 0


async def test_a_dead_letter_cut_off_halfway_is_moved_once(
    new_queue: QueueFactory, proxy: RedisProxy
) -> None:
    poison = message(1, chat=13)
    first = await new_queue(max_deliveries=1)
    await wait_until(lambda: owns_all(first))
    await first.put([poison, message(2, chat=13)])
    assert await first.take(timeout=WAIT) is not None
    await first.aclose()  # leaves holding it
    proxy.cut_request_before(b"XACK")  # copied to the dead letters, not yet acknowledged
    second = await new_queue(via=proxy.url(), max_deliveries=1)
    after = await second.take(timeout=WAIT)  # moved again after the error, then update 2
    assert after is not None
    assert (after.update_id, after.deliveries) == (2, 1)
    assert isinstance(second, RedisQueue)
    assert await second.dead_letters() == [poison]
