"""SP305: sync functions that block, called from async code (inferred)."""

import sqlite3
import time

from safe_polling.db import get_user_balance


def load_user(user_id: int) -> tuple[int, ...]:
    with sqlite3.connect("bot.db") as conn:
        return tuple(conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())


def backoff() -> None:
    time.sleep(1)


def load_and_wait(user_id: int) -> tuple[int, ...]:
    backoff()
    return load_user(user_id)


class Profiles:
    def fetch(self, user_id: int) -> tuple[int, ...]:
        return load_user(user_id)

    async def show(self, user_id: int) -> None:
        self.fetch(user_id)  # expect: SP305


async def profile(user_id: int) -> int:
    load_and_wait(user_id)  # expect: SP305
    return get_user_balance(user_id)  # expect: SP305
