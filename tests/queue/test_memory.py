"""The in-process queue beyond the shared contract: workers share one broker's partitions."""

from __future__ import annotations

import time

import pytest
from _queue_helpers import TTL, wait_until

from safe_polling.queue import MemoryBroker, MemoryQueue


def test_a_worker_takes_its_brokers_partition_count() -> None:
    broker = MemoryBroker(4)
    assert MemoryQueue(broker).partitions == 4
    assert MemoryQueue(broker, partitions=4).partitions == 4
    assert MemoryQueue().broker.partitions == 16  # a queue of its own


def test_a_worker_cannot_split_a_broker_differently() -> None:
    with pytest.raises(ValueError, match=r"^partitions must match the broker's$"):
        MemoryQueue(MemoryBroker(4), partitions=8)


async def test_leaving_hands_every_partition_over_and_stops_renewing() -> None:
    broker = MemoryBroker(4)
    queue = MemoryQueue(broker)
    await queue.start()
    assert await queue.owned() == frozenset(range(4))
    renewer = queue._renewer
    assert renewer is not None
    await queue.aclose()
    assert renewer.done()  # stopped by aclose itself, not left to stop later
    assert broker.owners == {}  # not left to expire: the next worker may claim them at once
    assert queue.worker not in broker.members


async def test_a_worker_claims_free_partitions_up_to_its_share_only() -> None:
    broker = MemoryBroker(6)
    one, two, three = (MemoryQueue(broker, ownership_ttl=TTL) for _ in range(3))
    try:
        for queue in (one, two, three):
            await queue.start()

        async def owned() -> list[int]:
            return [len(await queue.owned()) for queue in (two, three)]

        await wait_until(lambda: _counts(one, two, three, expected=[2, 2, 2]))
        await one.aclose()  # two partitions free, and a share of three for each of two
        await wait_until(lambda: _all_owned(broker))
        # The first to look claims one, not both: no worker ever holds more than its share.
        assert await owned() == [3, 3]
    finally:
        for queue in (one, two, three):
            await queue.aclose()


async def _counts(*queues: MemoryQueue, expected: list[int]) -> bool:
    return [len(await queue.owned()) for queue in queues] == expected


def _all_owned(broker: MemoryBroker) -> bool:
    now = time.monotonic()
    return all(broker.owner(p, now) is not None for p in range(broker.partitions))
