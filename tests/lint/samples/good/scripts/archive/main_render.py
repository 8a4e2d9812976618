"""One of several independent bots in one folder: each script is its own program."""

import os

from telegram.ext import Application


def main() -> None:
    application = Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.run_polling()


if __name__ == "__main__":
    main()
