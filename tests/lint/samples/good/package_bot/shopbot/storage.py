"""Storage: an asyncio lock in async code, a threading lock only around a dict update."""

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path

_CACHE: dict[int, int] = {}
_CACHE_LOCK = threading.Lock()


def read_balance(user_id: int) -> int:
    # Sync on purpose: callers run it with asyncio.to_thread.
    time.sleep(0.01)
    with sqlite3.connect("shop.db") as conn:
        row = conn.execute("SELECT credits FROM users WHERE id = ?", (user_id,)).fetchone()
    with _CACHE_LOCK:
        _CACHE[user_id] = int(row[0]) if row else 0
    return _CACHE[user_id]


def cached(user_id: int) -> int:
    with _CACHE_LOCK:
        return _CACHE.get(user_id, 0)


class Storage:
    def __init__(self, folder: str) -> None:
        self.path = Path(folder) / "users.json"
        self.lock = asyncio.Lock()

    async def remember(self, user_id: int) -> None:
        async with self.lock:
            seen = cached(user_id)
            text = json.dumps({"user": user_id, "seen": seen})
            await asyncio.to_thread(self.path.write_text, text)
