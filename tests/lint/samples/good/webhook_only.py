"""A webhook bot that never polls: SP401 is about mixing the two, not about webhooks."""

import os

from telegram.ext import ApplicationBuilder


def main() -> None:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.run_webhook(listen="127.0.0.1", port=8443, webhook_url="https://bot.example.com")


if __name__ == "__main__":
    main()
