"""A small app run as a subprocess to drive each path where a secret could reach stderr.

``python _leaky_app.py MODE``; the token comes from LEAK_TOKEN (a name redaction
does not read, so only the shape of the token or run_polling can mask it) and the
fake Bot API from TELEGRAM_BASE_URL. Each mode prints through a path outside an
ordinary log line; the test greps the whole output for the token.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import safe_polling

TOKEN = os.environ["LEAK_TOKEN"]
SECRET = TOKEN.split(":", 1)[1]
KIE_KEY = os.environ.get("LEAK_KIE_KEY", "")


def logging_error() -> None:
    # A %-format that fails: logging prints "--- Logging error ---" with msg and args.
    logging.basicConfig(level=logging.INFO)
    url = f"/file/bot{TOKEN.replace(':', '%3A')}"
    logging.getLogger("leak.test").info("token %d and %s", TOKEN, url)


def warning_to_stderr() -> None:
    warnings.warn(f"rejected token {TOKEN}", stacklevel=1)


def captured_warning() -> None:
    logging.basicConfig(level=logging.INFO)
    logging.captureWarnings(True)
    warnings.warn(f"rejected token {TOKEN}", stacklevel=1)


def thread_exception() -> None:
    def fail() -> None:
        raise RuntimeError(f"thread saw {TOKEN}")

    thread = threading.Thread(target=fail, name="leaky")
    thread.start()
    thread.join()


def post_init_exception() -> None:
    # An exception escaping run_polling from post_init, printed by sys.excepthook.
    from telegram.ext import Application, ApplicationBuilder

    async def post_init(_: Application[Any, Any, Any, Any, Any, Any]) -> None:
        raise RuntimeError(f"post_init failed for bot{TOKEN} ({SECRET})")

    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .post_init(post_init)
        .build()
    )
    safe_polling.run_polling(application, lease=None, preflight=False, configure_logging=False)


def registered_key() -> None:
    # A KIE key of no known shape, registered, printed percent-encoded in a warning.
    from urllib.parse import quote

    safe_polling.install_redaction(KIE_KEY)
    warnings.warn(f"GET /x?key={quote(KIE_KEY, safe='')}&raw={KIE_KEY}", stacklevel=1)


MODES: dict[str, Callable[[], None]] = {
    "logging-error": logging_error,
    "warning": warning_to_stderr,
    "captured-warning": captured_warning,
    "thread": thread_exception,
    "post-init": post_init_exception,
    "registered-key": registered_key,
}

if __name__ == "__main__":
    MODES[sys.argv[1]]()
