"""Keep secrets out of log lines.

httpx logs every Bot API request at INFO with the token in the URL, PTB's
``Bot.__init__`` logs the API URL at DEBUG and ``InvalidToken`` quotes the token
in its message. A logging *filter* would only see records of the logger it is
attached to (not the ones propagated from ``httpx``), and a *handler* filter
misses handlers added later, so redaction happens where every record is born:
in the log record factory.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

__all__ = ["install_redaction", "redact"]

# A bot token anywhere in a string: the bot id, ':' and a URL-safe secret. The
# look-behind lets "bot123:ABC..." in a URL match (no word boundary there).
_TOKEN_RE = re.compile(r"(?<![0-9])([0-9]{3,20}):[A-Za-z0-9_-]{20,}")
# The password part of a URL's userinfo: scheme://user:password@host
_URL_PASSWORD_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):([^@/\s]+)@")

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    """Return *text* with bot tokens, URL passwords and registered secrets masked.

    A token keeps its public bot id so logs stay useful: ``123456:***``.

    Example:
        >>> redact("GET https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe")
        'GET https://api.telegram.org/bot123456:***/getMe'
        >>> redact("postgresql://bot:hunter2@db.internal/app")
        'postgresql://bot:***@db.internal/app'

    .. versionadded:: 0.1.0
    """
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _TOKEN_RE.sub(rf"\1:{_MASK}", text)
    return _URL_PASSWORD_RE.sub(rf"\1:{_MASK}@", text)


def install_redaction(*secrets: str | None) -> None:
    """Mask secrets in every log record of this process, from any logger.

    Bot tokens and URL passwords are recognised by their shape; pass any other
    secret (a KIE API key, a token of unusual shape) to have it masked too.
    Safe to call many times: secrets accumulate and the hook is installed once.
    :func:`safe_polling.run_polling` calls it with the bot's token.

    Args:
        *secrets: Extra literal strings to mask. ``None`` and short strings
            (under 8 characters, which would mask ordinary words) are ignored.

    Example:
        .. code-block:: python

            import os
            from safe_polling import install_redaction

            install_redaction(os.environ["KIE_API_KEY"])

    .. versionadded:: 0.1.0
    """
    global _installed
    with _lock:
        _secrets.update(s for s in secrets if s and len(s) >= 8)
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: leave it for logging to report
        return
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        # Formatter uses a pre-set exc_text instead of formatting the exception
        # again, so the traceback (and the exception's message) is masked too.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
