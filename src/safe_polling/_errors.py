"""Error handling that logs and never restarts anything.

A production bot this library grew from "recovered" from errors by restarting
itself from the error handler, which started a second poller and caused the
very 409 Conflict it fought.
Everything here only logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import CodeType, TracebackType
from typing import Any

from telegram import Update
from telegram.error import Conflict, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, BaseHandler, ContextTypes, ConversationHandler

from ._metrics import handler_failed, handler_label

__all__ = ["PollingErrorCallback", "logging_error_handler"]

logger = logging.getLogger("safe_polling")

_WEBHOOK_HINT = (
    "a webhook is set for this token: polling cannot work until it is deleted "
    "(run `safe-polling reset-webhook`, or stop whatever calls setWebhook)"
)
_RIVAL_HINT = (
    "another instance is polling this token (a second copy of the bot, or the old "
    "instance of a deploy that has not stopped yet); use a lease so only one polls"
)


async def logging_error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log an error raised by a handler, with its context, and do nothing else.

    Register it with ``application.add_error_handler(logging_error_handler)``.
    It logs ``Unhandled error`` with the traceback and the update id, chat id,
    user id and the name of the handler callback that raised (when it can be
    found in the traceback). It never retries, restarts, re-raises or creates
    tasks: restarting from an error handler is how a second poller (and a 409
    Conflict) is born.

    Example:
        .. code-block:: python

            from safe_polling import logging_error_handler

            application.add_error_handler(logging_error_handler)

    .. versionadded:: 0.1.0
    """
    error = context.error
    details = _update_details(update)
    callback = _failing_callback(context.application, error) if error else None
    handler_failed(callback)
    if callback is not None:
        details.append(f"handler={handler_label(callback)}")
    suffix = f" ({', '.join(details)})" if details else ""
    exc_info = (type(error), error, error.__traceback__) if error else None
    logger.error("Unhandled error%s: %s", suffix, _describe(error), exc_info=exc_info)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "no exception attached"
    return f"{type(error).__name__}: {error}"


def _update_details(update: object) -> list[str]:
    if not isinstance(update, Update):
        return [] if update is None else [f"update={type(update).__name__}"]
    details = [f"update_id={update.update_id}"]
    if update.effective_chat:
        details.append(f"chat_id={update.effective_chat.id}")
    if update.effective_user:
        details.append(f"user_id={update.effective_user.id}")
    return details


def _failing_callback(
    application: Application[Any, Any, Any, Any, Any, Any], error: BaseException
) -> object | None:
    """The registered handler callback whose frame is in the traceback."""
    callbacks: dict[CodeType, object] = {}
    for group in application.handlers.values():
        for callback in _callbacks(group):
            code = getattr(callback, "__code__", None)
            if code is not None:
                callbacks[code] = callback
    found: object | None = None
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        found = callbacks.get(tb.tb_frame.f_code) or found
        tb = tb.tb_next
    return found


def _callbacks(handlers: Iterable[BaseHandler[Any, Any, Any]]) -> Iterator[object]:
    """Every callback of *handlers*, a ConversationHandler's states included.

    A ConversationHandler has no ``callback`` of its own: its children do.
    """
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            yield from _callbacks(handler.entry_points)
            for state in handler.states.values():
                yield from _callbacks(state)
            yield from _callbacks(handler.fallbacks)
        else:
            yield handler.callback


class PollingErrorCallback:
    """A PTB polling ``error_callback`` that logs one clear line per problem.

    Without an ``error_callback`` PTB logs a full traceback on every retry of a
    failing ``getUpdates``: a 409 Conflict then floods the log every few
    seconds, forever. This callback turns a :class:`telegram.error.Conflict`
    into ONE warning naming its cause (a webhook is set, or another instance
    polls this token) and repeats it at most once per *repeat_every* seconds
    with a count of what was suppressed. Other errors log one line each, with
    identical lines rate-limited the same way. It never retries or restarts:
    PTB's polling loop already retries.

    :func:`safe_polling.safe_start_polling` installs one; pass your own
    instance only to change *repeat_every*.

    Args:
        repeat_every: Seconds between repeats of the same warning.
        clock: The time source (for tests).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, *, repeat_every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.repeat_every = repeat_every
        self._clock = clock
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        #: How many 409 Conflicts polling has met so far.
        self.conflicts = 0

    def __call__(self, error: TelegramError) -> None:
        """Log *error* (called by PTB's polling loop; must not raise)."""
        if isinstance(error, Conflict):
            self.conflicts += 1
            key, level, text = "conflict", logging.WARNING, self._conflict_text(error)
        elif isinstance(error, TimedOut | NetworkError):
            key, level = f"network:{error}", logging.WARNING
            text = f"⚠️ Network problem while polling, retrying: {error}"
        else:
            key, level = f"error:{type(error).__name__}:{error}", logging.ERROR
            text = f"❌ Polling error, retrying: {type(error).__name__}: {error}"
        self._log_rate_limited(key, level, text)

    @staticmethod
    def _conflict_text(error: Conflict) -> str:
        message = error.message.lower()
        cause = _WEBHOOK_HINT if "webhook" in message else _RIVAL_HINT
        return f"⚠️ Telegram answered 409 Conflict ({error.message}): {cause}"

    def _log_rate_limited(self, key: str, level: int, text: str) -> None:
        now = self._clock()
        with self._lock:
            last = self._last_logged.get(key)
            if last is not None and now - last < self.repeat_every:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            suppressed = self._suppressed.pop(key, 0)
            self._last_logged[key] = now
        if suppressed:
            text += f" (repeated {suppressed} more time(s) since the last report)"
        logger.log(level, text)
