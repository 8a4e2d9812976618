"""Scale-out: one poller appends updates, many workers on many hosts handle them.

A queue rests on an existing engine, never on a broker of our own:

* :class:`RedisQueue`: Redis Streams with a consumer group, partitioned by chat (across hosts);
* :class:`MemoryQueue`: the same contract in one process (tests, a single replica).

:func:`queue_from_env` picks one from ``SAFE_POLLING_QUEUE``.

.. versionadded:: 0.1.0
"""

from typing import TYPE_CHECKING

from safe_polling._lazy import lazy_getattr
from safe_polling.queue._base import (
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_PARTITIONS,
    QueuedUpdate,
    QueueError,
    QueueStats,
    UpdateQueue,
    partition_of,
    partition_of_chat,
)
from safe_polling.queue._env import QUEUE_KINDS, queue_from_env

if TYPE_CHECKING:
    from safe_polling.queue._memory import MemoryBroker, MemoryQueue
    from safe_polling.queue._redis import RedisQueue

# A bot without SAFE_POLLING_QUEUE imports no backend (queue_from_env does the same).
__getattr__ = lazy_getattr(
    __name__,
    {"MemoryBroker": "._memory", "MemoryQueue": "._memory", "RedisQueue": "._redis"},
)

__all__ = [
    "DEFAULT_MAX_DELIVERIES",
    "DEFAULT_PARTITIONS",
    "QUEUE_KINDS",
    "MemoryBroker",
    "MemoryQueue",
    "QueueError",
    "QueueStats",
    "QueuedUpdate",
    "RedisQueue",
    "UpdateQueue",
    "partition_of",
    "partition_of_chat",
    "queue_from_env",
]
