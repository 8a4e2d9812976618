"""A bot for the delivery and chaos tests, run as a real subprocess.

Each text message credits its sender one unit in the balance store, keyed by
the update (so the *effect* is idempotent), records every handler run in
``handler_runs`` (not idempotent: it shows re-handling), and replies.
A message ``slow:<seconds>`` sleeps that long (asynchronously) first; any
other sleeps a random moment up to BOT_MAX_DELAY (default 0), so that some
updates are always in flight when a chaos test kills the leader.

Environment: TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL, DATABASE_URL,
SAFE_POLLING_DELIVERY, SAFE_POLLING_LEASE (default none) and the other
``SAFE_POLLING_*`` lease variables, BOT_CONCURRENCY, BOT_MAX_DELAY,
BOT_SLOW_CAP (caps the ``slow:`` sleeps of this process).
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
MAX_DELAY = float(os.environ.get("BOT_MAX_DELAY", "0"))


async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    assert update.effective_user is not None
    assert STORE is not None
    text = update.message.text or ""
    await STORE.execute(
        "INSERT INTO handler_runs (update_id, pid) VALUES ($1, $2)", update.update_id, os.getpid()
    )
    if text.startswith("slow:"):
        seconds = float(text.split(":", 1)[1])
        await asyncio.sleep(min(seconds, float(os.environ.get("BOT_SLOW_CAP", seconds))))
    elif MAX_DELAY:
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
    await STORE.apply_migrations(
        "delivery_tests",
        [
            "CREATE TABLE IF NOT EXISTS handler_runs"
            " (update_id BIGINT NOT NULL, pid BIGINT NOT NULL)"
        ],
    )


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
    lease = "env" if os.environ.get("SAFE_POLLING_LEASE", "none") != "none" else None
    run_polling(application, lease=lease, preflight=False, timeout=1, shutdown_timeout=20)


if __name__ == "__main__":
    main()
