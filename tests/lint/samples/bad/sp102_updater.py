"""SP102: the updater started by hand inside your own event loop."""

import asyncio

from telegram.ext import Application


async def run(application: Application) -> None:
    await application.initialize()
    await application.start()
    await application.updater.start_polling(drop_pending_updates=True)  # expect: SP102
    await asyncio.Event().wait()
