"""kie-ai-bot as it was before the seed's fixes (a lint sample; never run).

Every line marked `expect` is one of the mistakes the seed fixed by hand.
"""

import asyncio
import logging

from database import get_user_balance, set_user_balance
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

logger = logging.getLogger(__name__)

BOT_TOKEN = "7234567890:AAF1abcdefghijklmnopqrstuvwxyz12345"  # expect: SP402

_POLLING_STARTED = False
_POLLING_LOCK = asyncio.Lock()


async def start_bot(application: Application) -> None:
    global _POLLING_STARTED  # expect: SP103
    async with _POLLING_LOCK:
        if _POLLING_STARTED:
            logger.warning("Polling already started; skip second start")
            return
        _POLLING_STARTED = True
    await application.initialize()
    await application.start()
    await application.updater.start_polling(drop_pending_updates=True)


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id = update.effective_user.id
    credits = get_user_balance(user_id)  # expect: SP305
    await update.message.reply_text(f"Balance: {credits}")


async def generate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id = update.effective_user.id
    credits = get_user_balance(user_id)  # expect: SP305
    set_user_balance(user_id, credits - 10)  # expect: SP305
    await update.message.reply_text("Generating...")


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("Error: %s", context.error)
    for attempt in range(3):  # expect: SP202
        logger.info(f"Attempt {attempt + 1}/3: restarting bot")
        asyncio.create_task(start_bot(context.application))  # noqa: RUF006  # expect: SP201
        await asyncio.sleep(5)


async def main() -> None:
    application = Application.builder().token(BOT_TOKEN).build()
    application.add_handler(CommandHandler("balance", balance))
    application.add_handler(CommandHandler("generate", generate))
    application.add_error_handler(error_handler)
    await start_bot(application)  # expect: SP101
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
