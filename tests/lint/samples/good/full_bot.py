"""A well-behaved bot: every near miss of every rule, none of which is a problem."""

import asyncio
import functools
import logging
import os
import sqlite3
import time

import anyio
import asyncpg
import redis.asyncio as aioredis
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from safe_polling import logging_error_handler, run_polling
from safe_polling.db import get_user_balance, get_user_balance_async, to_async

logger = logging.getLogger(__name__)
VERSION = "1.2.3:build"
CHAT_ID = "-1001234567890"
NOT_A_TOKEN = "123456:short"


def load_user(user_id: int) -> tuple[int, ...]:
    with sqlite3.connect("bot.db") as conn:
        return tuple(conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())


load_user_async = to_async(load_user)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /start command: a handler called `start` is not a restart."""
    await update.message.reply_text("Hi!")


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id = update.effective_user.id
    credits = await get_user_balance_async(user_id)
    legacy = await asyncio.to_thread(get_user_balance, user_id)
    row = await asyncio.to_thread(load_user, user_id)
    other = await load_user_async(user_id)
    loop = asyncio.get_running_loop()
    again = await loop.run_in_executor(None, functools.partial(load_user, user_id))
    via_lambda = await asyncio.to_thread(lambda: load_user(user_id))
    via_anyio = await anyio.to_thread.run_sync(time.sleep, 0)
    await update.message.reply_text(f"{credits} {legacy} {row} {other} {again} {via_lambda}")
    del via_anyio


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    def build() -> str:
        # A nested sync def runs in the worker thread, not in the async body.
        with sqlite3.connect("bot.db") as conn:
            return str(conn.execute("SELECT count(*) FROM users").fetchone())

    text = await asyncio.to_thread(build)
    with open("report.txt", encoding="utf-8") as file:  # file reads are not reported
        text += file.read()
    await update.message.reply_text(text)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1/test")
    async with conn.transaction():
        await conn.execute("SELECT 1")
    cache = aioredis.Redis(host="127.0.0.1")
    await cache.get("key")
    await asyncio.sleep(1)
    await conn.close()


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    for line in ("Unhandled error", str(context.error)):
        logger.error(line)
    context.application.create_task(notify_admin(context))


async def notify_admin(context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.send_message(os.environ["ADMIN_CHAT_ID"], "an update failed")


def build_application() -> Application:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("balance", balance))
    application.add_handler(CommandHandler("report", report))
    application.add_handler(CommandHandler("stats", stats))
    application.add_error_handler(error_handler)
    application.add_error_handler(logging_error_handler)
    return application


def main() -> None:
    run_polling(build_application())


if __name__ == "__main__":
    main()
