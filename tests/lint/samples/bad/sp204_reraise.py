"""SP204: error handlers that re-raise."""

import logging

from telegram.ext import ContextTypes

logger = logging.getLogger(__name__)


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("error: %s", context.error)
    raise context.error  # expect: SP204


def telegram_error_callback(error: Exception) -> None:
    try:
        logger.error("polling error: %s", error)
    except Exception:
        raise  # expect: SP204
