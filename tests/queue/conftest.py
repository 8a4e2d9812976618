"""Queue fixtures: one factory per backend, making workers that share one queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _queue_helpers import PARTITIONS, TOKEN, TTL, QueueFactory

from safe_polling.queue import MemoryBroker, MemoryQueue, RedisQueue, UpdateQueue


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def new_queue(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[QueueFactory]:
    """Make started workers of one queue; all are closed and its keys deleted at teardown."""
    made: list[UpdateQueue] = []
    name = f"test-{uuid.uuid4().hex[:10]}"
    broker = MemoryBroker(PARTITIONS)
    url = str(request.getfixturevalue("redis_url")) if backend == "redis" else ""

    async def make(*, via: str = "", **options: Any) -> UpdateQueue:
        """*via*: another URL of the same Redis server (a proxy in front of it)."""
        options = {"partitions": PARTITIONS, "ownership_ttl": TTL, **options}
        queue: UpdateQueue
        if backend == "redis":
            queue = RedisQueue(via or url, bot_id=TOKEN, name=name, **options)
        else:
            queue = MemoryQueue(broker, **options)
        made.append(queue)
        await queue.start()
        return queue

    yield make
    for queue in made:
        await queue.aclose()
    if backend == "redis":
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        keys = [key async for key in client.scan_iter(match=f"safe-polling:queue:*:{name}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
