"""`python -m shopbot`: build the application and poll, once."""

import os

from telegram.ext import ApplicationBuilder, CommandHandler

import safe_polling

from .handlers.balance import balance
from .handlers.start import start
from .storage import Storage


def main() -> None:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.bot_data["storage"] = Storage(os.environ.get("DATA_DIR", "."))
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("balance", balance))
    application.add_error_handler(safe_polling.logging_error_handler)
    safe_polling.run_polling(application)


if __name__ == "__main__":
    main()
