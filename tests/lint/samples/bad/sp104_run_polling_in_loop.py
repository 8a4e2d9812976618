"""SP104: run_polling()/run_webhook() where an event loop already runs: PTB raises
`RuntimeError: Cannot close a running event loop` and the bot never polls."""

import asyncio
import os

from telegram.ext import Application, ApplicationBuilder


def start_webhook(application: Application) -> None:
    application.run_webhook(listen="0.0.0.0", port=8443)  # expect: SP104


async def main() -> None:
    application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    if os.environ.get("MODE") == "webhook":
        start_webhook(application)
    else:
        application.run_polling()  # expect: SP104


if __name__ == "__main__":
    asyncio.run(main())
