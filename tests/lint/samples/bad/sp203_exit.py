"""SP203: error handlers that end or re-execute the process."""

import os
import sys

from telegram.ext import ContextTypes


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606  # expect: SP203


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.error is None:
        sys.exit(1)  # expect: SP203
    raise SystemExit(1)  # expect: SP203
