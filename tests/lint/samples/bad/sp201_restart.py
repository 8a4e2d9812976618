"""SP201: a registered error handler (any name) that restarts the bot."""

import asyncio
import logging

from telegram.ext import Application, ContextTypes

from safe_polling import run_polling

logger = logging.getLogger(__name__)


async def restart_bot(application: Application) -> None:
    await application.stop()


async def on_problem(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("failed: %s", context.error)
    await context.application.initialize()  # expect: SP201
    await context.application.updater.start_polling()  # expect: SP201
    loop = asyncio.get_running_loop()
    loop.call_later(5, restart_bot, context.application)  # expect: SP201


def main(application: Application) -> None:
    application.add_error_handler(on_problem)
    run_polling(application)  # expect: SP101
