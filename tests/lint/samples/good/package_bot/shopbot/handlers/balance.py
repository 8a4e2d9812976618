"""/balance: the sync file read runs in a worker thread, not in the event loop."""

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from ..storage import read_balance  # noqa: TID252 (relative imports are what this sample checks)


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    amount = await asyncio.to_thread(read_balance, update.effective_user.id)
    await update.effective_message.reply_text(f"Balance: {amount}")
