"""The seed's sync get_user_balance lives in a module the linter cannot see."""

from legacy_db import get_user_balance
from telegram import Update
from telegram.ext import ContextTypes


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    credits = get_user_balance(update.effective_user.id)  # expect: SP305
    await update.message.reply_text(f"Balance: {credits}")


async def cheap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Passing the function to a thread is fine: it is not called here."""
    import asyncio

    credits = await asyncio.to_thread(get_user_balance, update.effective_user.id)
    await update.message.reply_text(f"Balance: {credits}")
