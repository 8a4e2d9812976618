"""Running the event loop yourself: the guarded start, once, via a module alias."""

import asyncio
import os
import sqlite3

from telegram.ext import ApplicationBuilder

import safe_polling as sp

CONN = sqlite3.connect("bot.db")


def count_users() -> int:
    return int(CONN.execute("SELECT count(*) FROM users").fetchone()[0])


async def amain() -> None:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    await sp.safe_start_polling(application, drop_updates=True)
    try:
        await asyncio.to_thread(count_users)
        await asyncio.Event().wait()
    finally:
        await sp.safe_stop_polling(application)


if __name__ == "__main__":
    asyncio.run(amain())
