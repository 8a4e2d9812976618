"""SP201: handlers registered through functools.partial and a lambda are resolved."""

import functools
import logging

from telegram.ext import Application, ContextTypes

logger = logging.getLogger(__name__)


async def report(update: object, context: ContextTypes.DEFAULT_TYPE, admin: int) -> None:
    logger.error("admin %s: %s", admin, context.error)
    await relaunch(context.application)  # expect: SP201


async def relaunch(application: Application) -> None:
    await application.start()  # expect: SP201


def setup(application: Application) -> None:
    application.add_error_handler(functools.partial(report, admin=1))
    restart = lambda update, context: relaunch(context.application)  # noqa: E731  # expect: SP201
    application.add_error_handler(restart)
