"""The freeze of a real bot: a sync storage helper that waits on the event loop's own
future (timeout 2.5 s) under a threading.Lock, called from async handlers."""

import asyncio
import json
import threading


class Storage:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()

    async def _fetch(self, key: str) -> str:
        await asyncio.sleep(0)
        return "{}"

    def load(self, key: str) -> dict[str, int]:
        with self._lock:
            future = asyncio.run_coroutine_threadsafe(self._fetch(key), self._loop)
            return dict(json.loads(future.result(timeout=2.5)))

    def cached(self) -> int:
        with self._lock:
            return 1


class Users:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def balance(self, user_id: int) -> int:
        return self.storage.load(str(user_id)).get("balance", 0)


STORAGE = Storage(asyncio.new_event_loop())


def get_balance(user_id: int) -> int:
    return STORAGE.load(str(user_id))["balance"]
