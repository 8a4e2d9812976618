"""The update-queue protocol shared by every backend, its errors and its records."""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import json
import logging
import zlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

__all__ = [
    "DEFAULT_MAX_DELIVERIES",
    "DEFAULT_PARTITIONS",
    "QueueError",
    "QueueStats",
    "QueuedUpdate",
    "UpdateQueue",
    "partition_of",
    "partition_of_chat",
]

logger = logging.getLogger("safe_polling.queue")

DEFAULT_PARTITIONS = 16
"""Partitions per bot. Each is owned by one worker at a time, so this bounds how many workers
can share the load; more partitions cost one more key to read per worker per poll.

.. versionadded:: 0.1.0
"""

DEFAULT_MAX_DELIVERIES = 5
"""An update handed out this many times without being acknowledged (its worker died each time)
goes to the dead-letter stream instead of killing the next worker too.

.. versionadded:: 0.1.0
"""


class QueueError(Exception):
    """The update queue cannot work as configured, or its server cannot be reached.

    The message names the queue and what failed, never a password or a bot token.

    .. versionadded:: 0.1.0
    """


@dataclasses.dataclass(frozen=True)
class QueuedUpdate:
    """One update taken from the queue by a worker, to be handled then acknowledged.

    Args:
        update: The update as Telegram sent it (a JSON object).
        partition: The partition it belongs to (see :func:`partition_of`).
        entry_id: The backend's id of the entry (a stream id for Redis).
        deliveries: How many times it has been handed out, this time included.
        enqueued_at: When the poller appended it (UNIX seconds).

    .. versionadded:: 0.1.0
    """

    update: dict[str, Any]
    partition: int
    entry_id: str
    deliveries: int
    enqueued_at: float

    @property
    def update_id(self) -> int:
        """The Telegram ``update_id``.

        .. versionadded:: 0.1.0
        """
        return int(self.update["update_id"])


@dataclasses.dataclass(frozen=True)
class QueueStats:
    """What ``/healthz`` shows about the queue.

    Args:
        backlog: Updates appended and not yet acknowledged, in all partitions.
        oldest_age: Seconds since the oldest of them was appended (0 when none).
        partitions_owned: Partitions this worker owns now.
        handled: Updates this worker acknowledged since it started.
        dead_letters: Updates moved to the dead-letter stream (all workers).

    .. versionadded:: 0.1.0
    """

    backlog: int
    oldest_age: float
    partitions_owned: int
    handled: int
    dead_letters: int


def _chat_or_user_id(update: dict[str, Any]) -> int | None:
    """The chat id (else the user id) of a raw update, looked up as PTB's ``effective_chat``."""
    payloads = [value for value in update.values() if isinstance(value, dict)]
    for payload in payloads:
        message = payload.get("message")
        chat = payload.get("chat") or (message.get("chat") if isinstance(message, dict) else None)
        if isinstance(chat, dict) and "id" in chat:
            return int(chat["id"])
    for payload in payloads:
        user = payload.get("from") or payload.get("user")
        if isinstance(user, dict) and "id" in user:
            return int(user["id"])
    return None


def partition_of(update: dict[str, Any], partitions: int) -> int:
    """The partition of a raw update: by chat, else by user, else by update id.

    All updates of one chat land in the same partition, which one worker at a
    time handles in order: that is what keeps a chat's updates in order across
    workers.

    Args:
        update: The update as Telegram sent it.
        partitions: How many partitions there are.

    Returns:
        A partition number in ``range(partitions)``.

    Example:
        >>> partition_of({"update_id": 5, "message": {"chat": {"id": 42}}}, 16)
        8

    .. versionadded:: 0.1.0
    """
    key = _chat_or_user_id(update)
    return partition_of_chat(int(update["update_id"]) if key is None else key, partitions)


def partition_of_chat(chat_id: int, partitions: int) -> int:
    """The partition of the updates of chat (or user) *chat_id*.

    Args:
        chat_id: A chat id, or a user id for updates without a chat.
        partitions: How many partitions there are.

    Returns:
        A partition number in ``range(partitions)``.

    Example:
        >>> partition_of_chat(42, 16)
        8

    .. versionadded:: 0.1.0
    """
    # crc32, not hash(): every process and host must agree on the partition.
    return zlib.crc32(str(chat_id).encode()) % partitions


def encode_update(update: dict[str, Any]) -> str:
    """The JSON text of an update, as stored in the queue."""
    return json.dumps(update, separators=(",", ":"))


class UpdateQueue(abc.ABC):
    """Updates from one poller to many workers, each chat's updates in order.

    The poller appends what it fetched and confirms the offset to Telegram only
    after :meth:`put` returned; every worker takes updates, handles them and
    acknowledges each one only after its handler finished and its delivery
    record is written::

        async with queue:                      # joins the workers
            await queue.wait_for_room()        # poller: bounded backlog
            await queue.put(updates)           # poller: then confirm the offset
            item = await queue.take(timeout=1) # worker
            ...handle item.update...
            await queue.ack(item)              # worker

    **The protocol** (what a backend implements): updates are split into
    :attr:`partitions` by :func:`partition_of`; each partition is owned by at
    most one worker at a time, ownership moves when workers join, leave
    (:meth:`aclose`) or die (after :attr:`ownership_ttl` seconds without a
    renewal). :meth:`take` returns an update only from a partition this worker
    owns and only when no earlier update of that partition is still unacknowledged,
    so a partition's updates are handled one at a time, in order. An update that
    was not acknowledged (its worker died) is handed out again to the partition's
    next owner, before the updates after it; after :attr:`max_deliveries`
    hand-outs it goes to the dead-letter store with one log line. Acknowledged
    updates are removed, so :meth:`stats` ``backlog`` is what is left to handle.

    Args:
        partitions: How many partitions (:data:`DEFAULT_PARTITIONS`).
        max_backlog: :meth:`wait_for_room` waits while the backlog is at least this.
        max_deliveries: Hand-outs before the dead-letter store (:data:`DEFAULT_MAX_DELIVERIES`).
        ownership_ttl: Seconds after which a silent worker's partitions move.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        max_backlog: int = 10_000,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        ownership_ttl: float = 3.0,
    ) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        if max_backlog < 1:
            raise ValueError("max_backlog must be at least 1")
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        if ownership_ttl <= 0:
            raise ValueError("ownership_ttl must be positive")
        self.partitions = partitions
        self.max_backlog = max_backlog
        self.max_deliveries = max_deliveries
        self.ownership_ttl = ownership_ttl
        self.handled = 0
        self._gained: set[int] = set()

    # -- the protocol ----------------------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Join the workers; partitions are claimed in the background from now on.

        Raises:
            QueueError: The server cannot be reached.
        """

    @abc.abstractmethod
    async def put(self, updates: Sequence[dict[str, Any]]) -> None:
        """Append *updates* (in order) to their partitions; durable when this returns.

        Raises:
            QueueError: They could not be appended: do not confirm their offset.
        """

    @abc.abstractmethod
    async def take(self, timeout: float) -> QueuedUpdate | None:
        """The next update this worker may handle, or :obj:`None` after *timeout* seconds.

        Raises:
            QueueError: The server failed.
        """

    @abc.abstractmethod
    async def ack(self, item: QueuedUpdate) -> None:
        """Acknowledge (and remove) *item*: its partition's next update may be taken.

        Raises:
            QueueError: The server failed. The partition keeps waiting for this
                acknowledgement: call again (if this worker leaves instead, the
                partition's next owner gets the update again).
        """

    @abc.abstractmethod
    async def stats(self) -> QueueStats:
        """Backlog, oldest unhandled age, partitions owned, handled and dead letters.

        Raises:
            QueueError: The server failed.
        """

    @abc.abstractmethod
    async def owned(self) -> frozenset[int]:
        """The partitions this worker owns now."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Leave: hand every partition over at once (in-flight updates stay unacknowledged
        and go to the next owner) and free the connection. Idempotent."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the queue lives, without secrets, for log lines."""

    # -- shared behaviour ------------------------------------------------------------------
    def take_gained(self) -> frozenset[int]:
        """The partitions this worker took over since the last call (then forgets them).

        A worker calls it after each :meth:`take`, before handling: state kept in
        memory for those partitions' chats (conversation states) may be stale, since
        another worker handled them meanwhile. An update is never taken from a
        partition before its gain is reported here.
        """
        gained, self._gained = frozenset(self._gained), set()
        return gained

    async def wait_for_room(self, poll: float = 0.05) -> None:
        """Wait while the backlog is at or above :attr:`max_backlog` (the poller's bound).

        Raises:
            QueueError: The server failed.
        """
        while True:
            if (await self.stats()).backlog < self.max_backlog:
                return
            await asyncio.sleep(poll)

    def fair_share(self, workers: int) -> int:
        """Partitions each of *workers* live workers should own (rounded up)."""
        return -(-self.partitions // max(1, workers))

    def dead_letter_log(self, item: QueuedUpdate) -> None:
        """The one log line of an update moved to the dead-letter store."""
        logger.error(
            "☠️ Update %d was handed out %d times without being acknowledged "
            "(its worker died each time); moved to the dead-letter store of %s",
            item.update_id,
            item.deliveries,
            self.describe(),
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
