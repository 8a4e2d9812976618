"""The chaos tests' bot, run as a real subprocess (adapted from ``tests/delivery/_bot.py``).

Each text message credits its sender one unit, keyed by the update
(``idempotency_key=f"update:{update_id}"``: the *effect* is idempotent), records
every handler run in ``handler_runs`` (not idempotent: it shows re-handling),
sleeps a random moment so that some updates are always in flight when the
leader is killed, and replies. ``slow:<seconds>`` sleeps that long instead.

Environment: TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL, DATABASE_URL, the
``SAFE_POLLING_*`` lease variables, BOT_CONCURRENCY, BOT_MAX_DELAY (seconds).
"""

from __future__ import annotations

import asyncio
import os
import random

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from safe_polling import logging_error_handler, run_polling
from safe_polling.db import BalanceStore, open_balance_store

STORE: BalanceStore | None = None
MAX_DELAY = float(os.environ.get("BOT_MAX_DELAY", "0.1"))


async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    assert update.effective_user is not None
    assert STORE is not None
    text = update.message.text or ""
    await STORE.execute(
        "INSERT INTO handler_runs (update_id, pid) VALUES ($1, $2)", update.update_id, os.getpid()
    )
    if text.startswith("slow:"):
        await asyncio.sleep(float(text.split(":", 1)[1]))
    else:
        await asyncio.sleep(random.uniform(0, MAX_DELAY))
    await STORE.add_user_balance_async(
        update.effective_user.id, 1, reason="update", idempotency_key=f"update:{update.update_id}"
    )
    await update.message.reply_text(f"done {text}")


async def post_init(application: Application) -> None:  # type: ignore[type-arg]
    global STORE
    if STORE is not None:  # leading again after a step-down: the store is still open
        return
    STORE = await open_balance_store(os.environ["DATABASE_URL"])


async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    if STORE is not None:
        await STORE.aclose()


def main() -> None:
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .concurrent_updates(int(os.environ.get("BOT_CONCURRENCY", "8")))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, handle))
    application.add_error_handler(logging_error_handler)
    run_polling(application, preflight=False, timeout=1, shutdown_timeout=20)


if __name__ == "__main__":
    main()
