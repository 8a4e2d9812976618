"""SP501: a coroutine function of the program called without await: the webhook is never
deleted."""

import asyncio

from telegram.ext import Application


async def ensure_polling_mode(application: Application) -> None:
    await application.bot.delete_webhook()


class Bot:
    async def refresh(self) -> None:
        await asyncio.sleep(0)

    async def run(self, application: Application) -> None:
        self.refresh()  # expect: SP501
        await self.refresh()


async def post_init(application: Application) -> None:
    ensure_polling_mode(application)  # expect: SP501
    task = asyncio.create_task(ensure_polling_mode(application))
    await task
    await asyncio.gather(ensure_polling_mode(application))
    pending = ensure_polling_mode(application)
    await pending
