"""Queue test helpers: raw updates, the settings and the waits the queue tests share.

No ``__init__.py`` here: a package ``tests/queue`` would shadow the standard library ``queue``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from safe_polling.queue import QueuedUpdate, UpdateQueue

TOKEN = "987654321:AAHsecretPART-never-log-me"
PARTITIONS = 8
TTL = 1.0  # short ownership TTL so crash tests stay quick
WAIT = 15.0  # generous bound on functional waits; never a speed assertion

QueueFactory = Callable[..., Awaitable[UpdateQueue]]


def message(update_id: int, chat: int, text: str = "") -> dict[str, Any]:
    """A raw message update as Telegram sends it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "T"},
            "text": text or f"{chat}#{update_id}",
        },
    }


async def wait_until(condition: Callable[[], object], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not await _value(condition()):
            await asyncio.sleep(0.02)


async def _value(result: object) -> object:
    return await result if asyncio.iscoroutine(result) else result


async def owns_all(queue: UpdateQueue) -> bool:
    return len(await queue.owned()) == PARTITIONS


async def drain(queue: UpdateQueue, count: int) -> list[QueuedUpdate]:
    """Take and acknowledge *count* updates, one at a time."""
    got: list[QueuedUpdate] = []
    async with asyncio.timeout(WAIT):
        while len(got) < count:
            item = await queue.take(timeout=0.5)
            if item is not None:
                got.append(item)
                await queue.ack(item)
    return got
