"""SP401: a webhook set in a program that also polls."""

from telegram.ext import Application

from safe_polling import run_polling


async def configure(application: Application) -> None:
    await application.bot.set_webhook("https://bot.example.com/hook")  # expect: SP401


def main(application: Application) -> None:
    application.post_init = configure
    run_polling(application)
