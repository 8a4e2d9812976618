"""A bot run as a subprocess: ``run_polling(watchdog=...)`` from WATCHDOG_ARG.

WATCHDOG_ARG is ``true``, ``false``, ``none``, ``env`` (the default, as a bot that
passes nothing) or a number of seconds; TELEGRAM_BOT_TOKEN and TELEGRAM_BASE_URL
point at the fake Bot API.
"""

from __future__ import annotations

import os
from typing import Any

from telegram.ext import ApplicationBuilder

from safe_polling import run_polling

_ARGS: dict[str, Any] = {"true": True, "false": False, "none": None, "env": "env"}


def main() -> None:
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .build()
    )
    raw = os.environ.get("WATCHDOG_ARG", "env")
    watchdog = _ARGS[raw] if raw in _ARGS else float(raw)
    run_polling(application, lease=None, preflight=False, watchdog=watchdog, timeout=1)


if __name__ == "__main__":
    main()
