"""The offline quick demo: safe_start_polling against the fake Bot API.

No token, no network: a fake Telegram runs on 127.0.0.1, a tiny bot polls it
through safe-polling, a scripted user talks to it, and a second start attempt
shows the guard. Run it with ``bash scripts/demo.sh``.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from telegram import Update
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from safe_polling import (
    install_redaction,
    logging_error_handler,
    safe_start_polling,
    safe_stop_polling,
)
from safe_polling.testing import FakeBotAPI

USER_ID = 1001


async def start(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text("Hi! I am polling safely. Send me anything.")


async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(f"You said: {update.message.text}")


async def say(api: FakeBotAPI, text: str) -> None:
    print(f"\n👤 user: {text}")
    before = api.sent_count
    api.inject_message(USER_ID, text)
    await api.wait_for("sendMessage", chat_id=USER_ID, after=before, timeout=10)
    print(f"🤖 bot:  {api.sent(USER_ID)[-1].text}")


async def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.WARNING)
    async with FakeBotAPI() as api:
        install_redaction(api.token)
        print(f"Fake Telegram Bot API on {api.base_url} (offline)\n")
        application = api.application_builder().build()
        application.add_handler(CommandHandler("start", start))
        application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
        application.add_error_handler(logging_error_handler)

        await safe_start_polling(application, drop_updates=True)
        print("\nA second start in the same process is refused by the guard:")
        await safe_start_polling(application)  # safe-polling: ignore[SP101]

        await say(api, "/start")
        await say(api, "hello")
        await safe_stop_polling(application)

        stats = api.stats
        print(
            f"\nFake Telegram saw {stats.get_updates_calls} getUpdates, "
            f"at most {stats.max_concurrent_get_updates} at once, "
            f"{stats.conflicts_total} × 409 Conflict."
        )
        ok = stats.max_concurrent_get_updates == 1 and stats.conflicts_total == 0
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
