"""...and this one, in the same program, starts it again (aliased import)."""

from telegram.ext import Application

from safe_polling import safe_start_polling as begin


async def watchdog(application: Application) -> None:
    await begin(application)  # expect: SP101
