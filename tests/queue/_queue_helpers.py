"""Queue test helpers: raw updates and the settings the queue tests share.

No ``__init__.py`` here: a package ``tests/queue`` would shadow the standard library ``queue``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from safe_polling.queue import UpdateQueue

TOKEN = "987654321:AAHsecretPART-never-log-me"
PARTITIONS = 8
TTL = 1.0  # short ownership TTL so crash tests stay quick

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
