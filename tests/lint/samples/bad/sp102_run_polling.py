"""SP102: PTB's own run_polling: no lease, no guard, no deleteWebhook."""

import os

from telegram.ext import Application, ApplicationBuilder


def main() -> None:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.run_polling()  # expect: SP102


def legacy(application: Application) -> None:
    Application.run_polling(application)  # expect: SP102, SP101
