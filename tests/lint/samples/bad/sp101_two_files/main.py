"""SP101 across files: this file starts polling once..."""

import os

from telegram.ext import ApplicationBuilder

import safe_polling as sp


def main() -> None:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    sp.run_polling(application)


if __name__ == "__main__":
    main()
