"""Webhook or polling, chosen by one setting: the branches exclude each other, so this is
one start and no webhook is set while polling."""

import os

from telegram.ext import Application, ApplicationBuilder


def build() -> Application:
    return ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()


def run_webhook_mode(application: Application) -> None:
    application.run_webhook(
        listen="0.0.0.0",
        port=int(os.environ.get("PORT", "8443")),
        webhook_url=os.environ["WEBHOOK_URL"],
    )


def run_polling_mode(application: Application) -> None:
    application.run_polling()


def main() -> None:
    application = build()
    mode = os.environ.get("BOT_MODE", "polling")
    if mode == "webhook":
        run_webhook_mode(application)
    elif mode == "polling":
        run_polling_mode(application)
    else:
        raise SystemExit(f"BOT_MODE must be webhook or polling, not {mode!r}")


def main_early_return() -> None:
    application = build()
    if os.environ.get("WEBHOOK_URL"):
        application.run_webhook(listen="0.0.0.0", port=8443, webhook_url=os.environ["WEBHOOK_URL"])
        return
    application.run_polling()


if __name__ == "__main__":
    if os.environ.get("LEGACY_START"):
        main_early_return()
    else:
        main()
