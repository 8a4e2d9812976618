"""queue_from_env: the table of kinds, the options, and errors that never echo a URL."""

from __future__ import annotations

import pytest
from _queue_helpers import TOKEN

from safe_polling.queue import MemoryQueue, QueueError, RedisQueue, queue_from_env

PASSWORD = "s3cr3t-redis-pass"


@pytest.mark.parametrize("value", ["", "  ", "none", "NONE"])
def test_no_queue_without_safe_polling_queue(value: str) -> None:
    assert queue_from_env(token=TOKEN, env={"SAFE_POLLING_QUEUE": value}) is None


def test_a_redis_url_builds_a_redis_queue_without_showing_its_password() -> None:
    url = f"redis://:{PASSWORD}@cache.internal:6380/2"
    queue = queue_from_env(token=TOKEN, env={"SAFE_POLLING_QUEUE": url})
    assert isinstance(queue, RedisQueue)
    assert queue.describe() == (
        "redis queue on cache.internal:6380/2"
        " (safe-polling:queue:987654321:default, 16 partitions)"
    )
    assert PASSWORD not in queue.describe()
    assert "AAH" not in queue.describe()


def test_options_come_from_the_environment() -> None:
    env = {
        "SAFE_POLLING_QUEUE": "memory",
        "SAFE_POLLING_QUEUE_PARTITIONS": "4",
        "SAFE_POLLING_QUEUE_MAX_BACKLOG": "50",
        "SAFE_POLLING_QUEUE_MAX_DELIVERIES": "3",
    }
    queue = queue_from_env(token=TOKEN, env=env)
    assert isinstance(queue, MemoryQueue)
    assert (queue.partitions, queue.max_backlog, queue.max_deliveries) == (4, 50, 3)


def test_an_unknown_kind_is_one_clear_line_without_the_value() -> None:
    with pytest.raises(QueueError) as caught:
        queue_from_env(token=TOKEN, env={"SAFE_POLLING_QUEUE": f"amqp://u:{PASSWORD}@mq/"})
    assert str(caught.value) == (
        "SAFE_POLLING_QUEUE must be a redis:// or rediss:// URL, 'memory' or 'none'"
    )


def test_a_bad_number_is_named() -> None:
    env = {"SAFE_POLLING_QUEUE": "memory", "SAFE_POLLING_QUEUE_PARTITIONS": "zero"}
    with pytest.raises(QueueError, match="SAFE_POLLING_QUEUE_PARTITIONS must be a positive"):
        queue_from_env(token=TOKEN, env=env)
