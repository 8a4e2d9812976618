"""SP101: polling started from two places (both through safe_polling, still two)."""

from telegram.ext import Application

from safe_polling import run_polling, safe_start_polling


def main(application: Application) -> None:
    run_polling(application)


async def resume_polling(application: Application) -> None:
    await safe_start_polling(application)  # expect: SP101
