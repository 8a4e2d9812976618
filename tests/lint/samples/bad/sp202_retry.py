"""SP202: retry loops and 'Attempt 1/3' counters in error handlers."""

import asyncio
import logging

from telegram.ext import ContextTypes
from tenacity import retry, stop_after_attempt

logger = logging.getLogger(__name__)
MAX_RETRIES = 3


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    retries = 0
    while retries < MAX_RETRIES:  # expect: SP202
        retries += 1
        await asyncio.sleep(retries)


async def handle_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    attempt = context.chat_data.get("attempt", 0) if context.chat_data else 0
    logger.warning("Attempt %d/%d failed", attempt, MAX_RETRIES)  # expect: SP202


@retry(stop=stop_after_attempt(3))  # expect: SP202
async def errors_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("error: %s", context.error)
