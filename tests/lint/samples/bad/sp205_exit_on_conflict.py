"""SP205: exiting (or restarting) when Telegram answers 409 Conflict: a restart loop."""

import os
import sys

from telegram.error import Conflict
from telegram.ext import Application, ContextTypes


async def ensure_webhook(application: Application, url: str) -> None:
    try:
        await application.bot.set_webhook(url)
    except Conflict:
        os._exit(0)  # expect: SP205


def watch(error: Exception) -> None:
    if isinstance(error, Conflict):
        sys.exit(1)  # expect: SP205


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if isinstance(context.error, Conflict):
        sys.exit(1)  # expect: SP203, SP205
