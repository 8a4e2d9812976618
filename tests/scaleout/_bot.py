"""A bot for the scale-out tests, run as real replica processes sharing a queue.

Each text message ``<chat>#<seq>`` is one step of that chat's sequence. The
handler appends a row to ``scale_runs`` when it starts (not idempotent: it shows
re-handling and the order handlers started in), burns ``BOT_CPU_MS`` of pure
Python, credits the sender one unit keyed by the update (the effect, idempotent)
and replies ``done <text>``.

Environment: TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL, DATABASE_URL,
SAFE_POLLING_QUEUE, SAFE_POLLING_LEASE (and its variables), BOT_CPU_MS.
"""

from __future__ import annotations

import os
import time

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from safe_polling import PerChatUpdateProcessor, logging_error_handler, run_polling
from safe_polling.db import BalanceStore, open_balance_store

STORE: BalanceStore | None = None
CPU_SECONDS = float(os.environ.get("BOT_CPU_MS", "0")) / 1000


def burn(seconds: float) -> None:
    """Pure-Python work for *seconds* (holds the GIL, like image or receipt processing)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1


async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    assert update.effective_chat is not None
    assert STORE is not None
    text = update.message.text or ""
    seq = int(text.rsplit("#", 1)[1]) if "#" in text else -1
    await STORE.execute(
        "INSERT INTO scale_runs (chat, seq, update_id, pid) VALUES ($1, $2, $3, $4)",
        update.effective_chat.id,
        seq,
        update.update_id,
        os.getpid(),
    )
    burn(CPU_SECONDS)
    await STORE.add_user_balance_async(
        update.effective_chat.id, 1, reason="update", idempotency_key=f"u:{update.update_id}"
    )
    await update.message.reply_text(f"done {text}")


async def post_init(application: Application) -> None:  # type: ignore[type-arg]
    global STORE
    STORE = await open_balance_store(os.environ["DATABASE_URL"])
    await STORE.apply_migrations(
        "scaleout_tests",
        [
            "CREATE TABLE IF NOT EXISTS scale_runs (id BIGSERIAL PRIMARY KEY, chat BIGINT,"
            " seq INT, update_id BIGINT, pid INT)"
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
        .concurrent_updates(PerChatUpdateProcessor(8))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, handle))
    application.add_error_handler(logging_error_handler)
    run_polling(application, preflight=False, timeout=1, shutdown_timeout=20)


if __name__ == "__main__":
    main()
