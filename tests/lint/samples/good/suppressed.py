"""Findings silenced on purpose, with the reason next to the comment."""

import time

from telegram.ext import Application


async def warm_up() -> None:
    time.sleep(0.01)  # safe-polling: ignore[SP302] runs once, before polling starts


def legacy(application: Application) -> None:
    application.run_polling()  # safe-polling: ignore  (the old entry point, kept for a test)
