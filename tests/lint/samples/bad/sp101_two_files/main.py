"""SP101 across files: this file starts polling once, and imports the watchdog..."""

import os

from telegram.ext import ApplicationBuilder

import safe_polling as sp
from watchdog import watchdog


def main() -> None:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.post_init = watchdog
    sp.run_polling(application)


if __name__ == "__main__":
    main()
