"""/start."""

from telegram import Update
from telegram.ext import ContextTypes

from ..storage import Storage  # noqa: TID252 (relative imports are what this sample checks)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    storage: Storage = context.bot_data["storage"]
    await storage.remember(update.effective_user.id)
    await update.effective_message.reply_text("Welcome!")
