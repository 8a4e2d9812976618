"""A bot run as a real subprocess by the metrics tests: ``python _metrics_bot.py``.

It echoes texts, raises on ``boom`` (into :func:`safe_polling.logging_error_handler`) and
blocks the event loop for 0.6 s on ``block`` (a synchronous sleep, as a real bot's sync
database call would). A text starting with ``slow`` enters a ConversationHandler whose
entry callback waits ``SLOW_SECONDS`` (0.5 by default, without blocking the loop), replies
and ends. Up to 8 updates run at once. Configured by environment: TELEGRAM_BOT_TOKEN,
TELEGRAM_BASE_URL, SLOW_SECONDS and the ``SAFE_POLLING_*`` variables (lease, health port,
watchdog, queue) with DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os
import time

from telegram import Update
from telegram.ext import (
    ApplicationBuilder,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from safe_polling import logging_error_handler, run_polling

SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "0.5"))


async def on_text(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    assert update.message.text is not None
    if update.message.text == "boom":
        raise RuntimeError("boom on purpose")
    if update.message.text == "block":
        time.sleep(0.6)  # the frozen loop the watchdog must see
    await update.message.reply_text(f"echo: {update.message.text}")


async def on_slow(update: Update, _: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    await asyncio.sleep(SLOW_SECONDS)  # a slow API call: the loop stays free
    await update.message.reply_text(f"done: {update.message.text}")
    return ConversationHandler.END


def main() -> None:
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .concurrent_updates(8)
        .build()
    )
    slow = MessageHandler(filters.Regex("^slow"), on_slow)
    application.add_handler(ConversationHandler(entry_points=[slow], states={}, fallbacks=[]))
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    application.add_error_handler(logging_error_handler)
    run_polling(application, preflight=False, timeout=1)


if __name__ == "__main__":
    main()
