"""A minimal bot run as a real subprocess by the tests: ``python _echo_bot.py``.

Configured by environment: TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL,
ECHO_BOT_LOG_LEVEL (root logging level; DEBUG shows httpx's and PTB's lines) and
ECHO_BOT_MODULES_FILE (where each echo writes the names of the modules imported so far).
"""

from __future__ import annotations

import logging
import os
import sys

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from safe_polling import logging_error_handler, run_polling


async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    modules_file = os.environ.get("ECHO_BOT_MODULES_FILE")
    if modules_file:
        with open(modules_file, "w", encoding="utf-8") as file:
            file.write("\n".join(sorted(sys.modules)))
    await update.message.reply_text(f"echo: {update.message.text}")


def main() -> None:
    level = os.environ.get("ECHO_BOT_LOG_LEVEL")
    if level:
        logging.basicConfig(level=level, stream=sys.stderr)
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_error_handler(logging_error_handler)
    lease = os.environ.get("ECHO_BOT_LEASE", "none")
    run_polling(
        application,
        lease=None if lease == "none" else "env",
        preflight=os.environ.get("ECHO_BOT_PREFLIGHT") == "1",
        timeout=1,
    )


if __name__ == "__main__":
    main()
