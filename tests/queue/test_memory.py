"""The in-process queue beyond the shared contract: workers share one broker's partitions."""

from __future__ import annotations

import pytest

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
