"""kie-ai-bot after the fixes, done with safe-polling (a lint sample; must lint clean)."""

import asyncio
import logging
import os

from database import get_user_balance_async, set_user_balance
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from safe_polling import logging_error_handler, run_polling

logger = logging.getLogger(__name__)


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    credits = await get_user_balance_async(update.effective_user.id)
    await update.message.reply_text(f"Balance: {credits}")


async def generate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id = update.effective_user.id
    credits = await get_user_balance_async(user_id)
    await asyncio.to_thread(set_user_balance, user_id, credits - 10)
    await update.message.reply_text("Generating...")


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.exception("Unhandled error", exc_info=context.error)


def main() -> None:
    application = Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.add_handler(CommandHandler("balance", balance))
    application.add_handler(CommandHandler("generate", generate))
    application.add_error_handler(error_handler)
    application.add_error_handler(logging_error_handler)
    run_polling(application)


if __name__ == "__main__":
    main()
