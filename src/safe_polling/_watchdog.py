"""A watchdog that names the handler and the update that blocked the event loop.

A production bot this library grew from froze for seconds at a time and its
author had to hunt by hand for the synchronous database call inside an
``async def`` handler that caused it. This module finds it for you: a heartbeat
on the event loop and a monitor thread beside it. When the heartbeat stops for longer
than the threshold, the thread reads the loop thread's stack (the loop cannot:
it is the one stuck), finds the handler and the update, and logs one warning
when the loop is free.

The only cost while the loop is healthy is two timer callbacks on the loop and
one thread wake-up per ``threshold``: nothing runs per update.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import CodeType, FrameType, TracebackType
from typing import Any, Literal

import telegram
from telegram import Update
from telegram.ext import Application, BaseHandler, ConversationHandler

from ._metrics import loop_block_ended, loop_block_seen
from ._redaction import redact

__all__ = ["LoopWatchdog", "resolve_watchdog", "watchdog_from_env"]

_DEFAULT_THRESHOLD = 0.1
# SAFE_POLLING_WATCHDOG is in milliseconds, so "0.2" (meant as seconds) would be 0.2 ms: the
# loop's ordinary scheduling jitter, reported thousands of times a minute. Below 10 ms
# is refused.
_MIN_ENV_MILLISECONDS = 10.0
_ENV_VAR = "SAFE_POLLING_WATCHDOG"
_HINT = (
    "a blocking call (sync DB driver, time.sleep, requests) runs inside an async handler; "
    "use safe_polling.db or to_async"
)
# Directories whose frames are never "user code": the innermost frame outside
# them is the line to show (the place where the blocking call was made).
_PATHS = sysconfig.get_paths()  # once: each call re-reads the install scheme (~1 ms)
_LIBRARY_DIRS = tuple(
    os.path.join(os.path.normcase(os.path.abspath(path)), "")
    for path in {
        *(_PATHS[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
        os.path.dirname(telegram.__file__),
        os.path.dirname(__file__),
    }
)
_HANDLE_UPDATE_CODE = BaseHandler.handle_update.__code__


@dataclass(frozen=True)
class _Culprit:
    """What the loop thread was running, read from its stack (strings only)."""

    handler: str | None = None
    location: str | None = None
    update: str | None = None


class LoopWatchdog:
    """Warn when something blocks the event loop, naming the handler and update.

    A synchronous call inside an ``async def`` handler (a sync database
    driver, :func:`time.sleep`, :mod:`requests`) freezes the whole bot: no
    other update, job or getUpdates runs until it returns. The watchdog ticks a
    heartbeat on the loop; a daemon thread watches it and, when the loop has
    not ticked for longer than *threshold*, reads the loop's stack once. When
    the loop runs again it logs ONE warning such as::

        🐢 Event loop blocked for 512 ms by handler 'balance' (update_id=12,
        chat_id=42, user_id=42) at bot.py:42 in get_user_balance: a blocking
        call (sync DB driver, time.sleep, requests) runs inside an async
        handler; use safe_polling.db or to_async

    The handler is the registered callback of *application* (any group,
    including conversation states) found on the stack; the location is the
    innermost frame of your code (not the standard library, site-packages,
    PTB or safe-polling). The same (handler, location) is reported at most
    once per *repeat_every* seconds; the next report counts the ones left
    out. A block that lasts longer than *stuck_after* also gets one
    ``still blocked`` warning while it lasts, so a call that never returns
    is not silent.

    :func:`safe_polling.run_polling` starts one by default (``watchdog=False``
    or ``SAFE_POLLING_WATCHDOG=0`` turns it off; see :func:`watchdog_from_env`).

    Args:
        threshold: Seconds the loop may be busy before it counts as blocked.
        application: The application whose handlers to name (optional; without
            it the handler is still found through PTB's ``handle_update``).
        repeat_every: Seconds between two reports of the same handler and line.
        stuck_after: Seconds after which a block still in progress is reported.
        logger: Where the warnings go.

    Raises:
        ValueError: If *threshold* is not a positive, finite number (a :obj:`bool`
            is refused: ``True`` is not "1 second").

    Example:
        .. code-block:: python

            from safe_polling import LoopWatchdog, safe_start_polling, safe_stop_polling

            async with LoopWatchdog(threshold=0.1, application=application):
                await safe_start_polling(application)
                ...  # until it is time to stop
                await safe_stop_polling(application)

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        threshold: float = _DEFAULT_THRESHOLD,
        application: Application[Any, Any, Any, Any, Any, Any] | None = None,
        repeat_every: float = 60.0,
        stuck_after: float = 10.0,
        logger: logging.Logger = logging.getLogger("safe_polling"),  # noqa: B008
    ) -> None:
        self.threshold = _checked_threshold(threshold)
        self.application = application
        self.repeat_every = repeat_every
        self.stuck_after = max(stuck_after, threshold)
        self.logger = logger
        # Half the threshold: a healthy loop never looks blocked, and wakes
        # only twice per threshold for the heartbeat.
        self._interval = threshold / 2
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_ident = 0
        self._timer: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_tick = 0.0
        self._last_gap = 0.0
        self._limiter = _RateLimiter(repeat_every)
        # Monitor-thread state: the tick a block started after, and its stack.
        self._blocked_after: float | None = None
        self._culprit = _Culprit()
        self._stuck_reported = False
        self._blocks = 0

    @property
    def blocks(self) -> int:
        """How many blocks longer than the threshold were seen so far."""
        return self._blocks

    async def start(self) -> None:
        """Start watching the running event loop (call it from inside that loop).

        Raises:
            RuntimeError: If the watchdog is already running.
        """
        if self._thread is not None:
            raise RuntimeError("LoopWatchdog is already running")
        self._loop = asyncio.get_running_loop()
        self._loop_ident = threading.get_ident()
        self._stop.clear()
        self._blocked_after = None
        self._last_tick = time.monotonic()
        self._tick()
        self._thread = threading.Thread(
            target=self._monitor, name="safe-polling-watchdog", daemon=True
        )
        self._thread.start()
        self.logger.info(
            "👀 Event-loop watchdog on: blocks longer than %s will be reported",
            _duration(self.threshold),
        )

    async def stop(self) -> None:
        """Stop watching; a block that just ended is still reported. Idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # A last tick ends a block the timer had no chance to see end yet.
        self._tick_once()
        self._stop.set()
        # The thread wakes at once from its Event wait and only logs: a short join.
        await asyncio.to_thread(thread.join, 5.0)

    async def __aenter__(self) -> LoopWatchdog:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- loop thread -------------------------------------------------------

    def _tick(self) -> None:
        self._tick_once()
        assert self._loop is not None
        self._timer = self._loop.call_later(self._interval, self._tick)

    def _tick_once(self) -> None:
        now = time.monotonic()
        # The loop measures the gap itself, at its first tick after a block:
        # the monitor thread may only look a little later.
        if now - self._last_tick > self.threshold:
            self._last_gap = now - self._last_tick
        self._last_tick = now

    # -- monitor thread ----------------------------------------------------

    def _monitor(self) -> None:
        wait = self.threshold
        while True:
            stopping = self._stop.wait(wait)
            try:
                wait = self._check()
            except Exception:  # the watchdog must never die or crash the bot
                self.logger.debug("LoopWatchdog check failed", exc_info=True)
                wait = self.threshold
            if stopping:
                return

    def _check(self) -> float:
        """Look at the heartbeat once; return the seconds until the next look."""
        last = self._last_tick
        if self._blocked_after is not None:
            self._follow_block(last)
            return self._interval
        idle = time.monotonic() - last
        if idle <= self.threshold:
            # Sleep until this heartbeat would go stale: on a healthy loop the
            # thread wakes about once per threshold, not once per tick.
            return self.threshold - idle + 0.001
        self._blocked_after = last
        self._last_gap = 0.0  # left over from a block too short to be caught
        self._stuck_reported = False
        self._blocks += 1
        loop_block_seen()
        culprit = self._capture()
        # If the loop ticked while we read its stack, the block was over and
        # the stack shows whatever ran next: do not blame it.
        self._culprit = culprit if self._last_tick == last else _Culprit()
        return self._interval

    def _follow_block(self, last: float) -> None:
        assert self._blocked_after is not None
        if last != self._blocked_after:  # the loop ticked: the block is over
            gap, self._last_gap = self._last_gap, 0.0
            self._report(gap or last - self._blocked_after, self._culprit)
            self._blocked_after = None
        elif not self._stuck_reported and time.monotonic() - last > self.stuck_after:
            self._stuck_reported = True
            self._log_stuck(time.monotonic() - last)

    def _capture(self) -> _Culprit:
        frame = sys._current_frames().get(self._loop_ident)
        if frame is None:
            return _Culprit()
        try:
            return _inspect_stack(list(_walk(frame)), _handler_codes(self.application))
        finally:
            del frame

    def _report(self, duration: float, culprit: _Culprit) -> None:
        loop_block_ended(duration)  # every block, including those the log rate-limits
        suppressed = self._limiter.admit((culprit.handler, culprit.location))
        if suppressed is None:
            return
        text = f"🐢 Event loop blocked for {_duration(duration)}{_describe(culprit)}: {_HINT}"
        if suppressed:
            text += (
                f" ({suppressed} more such block(s) in the last "
                f"{self.repeat_every:g} s were not logged)"
            )
        self.logger.warning("%s", text)

    def _log_stuck(self, duration: float) -> None:
        self.logger.warning(
            "🐢 Event loop blocked for %s so far and still blocked%s: %s",
            _duration(duration),
            _describe(self._culprit),
            _HINT,
        )


class _RateLimiter:
    """One report per key per *every* seconds, counting what it held back."""

    def __init__(self, every: float, clock: Any = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._last: dict[object, float] = {}
        self._held: dict[object, int] = {}

    def admit(self, key: object) -> int | None:
        """None when *key* must stay quiet; else how many were held back before."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


# -- reading the stack -------------------------------------------------------


def _walk(frame: FrameType | None) -> Iterator[FrameType]:
    """Innermost first."""
    while frame is not None:
        yield frame
        frame = frame.f_back


def _handler_codes(
    application: Application[Any, Any, Any, Any, Any, Any] | None,
) -> dict[CodeType, str]:
    if application is None:
        return {}
    codes: dict[CodeType, str] = {}
    try:
        # Another thread may add a handler meanwhile: copy before iterating.
        groups = [list(group) for group in list(application.handlers.values())]
    except RuntimeError:
        return codes
    for group in groups:
        _collect_callbacks(group, codes)
    return codes


def _collect_callbacks(handlers: Iterable[object], codes: dict[CodeType, str]) -> None:
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            _collect_callbacks(handler.entry_points, codes)
            for state_handlers in handler.states.values():
                _collect_callbacks(state_handlers, codes)
            _collect_callbacks(handler.fallbacks, codes)
            continue
        callback = getattr(handler, "callback", None)
        code = getattr(callback, "__code__", None)
        if isinstance(code, CodeType):
            codes[code] = getattr(callback, "__qualname__", code.co_name)


def _inspect_stack(frames: list[FrameType], codes: Mapping[CodeType, str]) -> _Culprit:
    handler, handler_frame = _find_handler(frames, codes)
    # Your innermost line; failing that (a bot installed into site-packages),
    # the handler's own line; failing that, whatever runs.
    user = next((f for f in frames if not _is_library(f.f_code.co_filename)), None)
    where = user or handler_frame or (frames[0] if frames else None)
    location = None
    if where is not None:
        location = f"{_short_path(where.f_code.co_filename)}:{where.f_lineno} in "
        location += where.f_code.co_name
    return _Culprit(handler=handler, location=location, update=_find_update(frames))


def _find_handler(
    frames: list[FrameType], codes: Mapping[CodeType, str]
) -> tuple[str | None, FrameType | None]:
    """The innermost registered callback on the stack, and its frame."""
    for frame in frames:
        if frame.f_code in codes:
            return codes[frame.f_code], frame
    # Not registered in the application we know (or none given): PTB's
    # BaseHandler.handle_update awaits the callback, one frame further in.
    for inner, frame in zip([None, *frames], frames, strict=False):
        if frame.f_code is _HANDLE_UPDATE_CODE:
            return _callback_name(frame), inner
    return None, None


def _callback_name(frame: FrameType) -> str | None:
    callback = getattr(frame.f_locals.get("self"), "callback", None)
    return getattr(callback, "__qualname__", None) if callback is not None else None


def _find_update(frames: list[FrameType]) -> str | None:
    for frame in frames:
        for value in list(frame.f_locals.values()):
            if isinstance(value, Update):
                return _update_details(value)
    return None


def _update_details(update: Update) -> str:
    details = [f"update_id={update.update_id}"]
    try:
        if update.effective_chat:
            details.append(f"chat_id={update.effective_chat.id}")
        if update.effective_user:
            details.append(f"user_id={update.effective_user.id}")
    except Exception:  # noqa: S110 - the ids are a bonus; the update id is enough
        pass
    return ", ".join(details)


def _is_library(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen ...>, <string>
        return True
    path = os.path.normcase(os.path.abspath(filename))
    return path.startswith(_LIBRARY_DIRS) or "site-packages" in path or "dist-packages" in path


def _short_path(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if relative.startswith("..") else relative


def _describe(culprit: _Culprit) -> str:
    if culprit.location is None:
        return " (the block ended before its stack could be read)"
    text = f" by handler {culprit.handler!r}" if culprit.handler else ""
    if culprit.update:
        text += f" ({culprit.update})"
    return f"{text} at {culprit.location}"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _checked_threshold(threshold: object) -> float:
    """*threshold* as seconds, refusing a bool (a number to Python) and non-finite values."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        # ValueError, not TypeError: run_polling reports bad options as one line.
        raise ValueError(
            f"watchdog threshold must be a number of seconds, not {type(threshold).__name__}"
        )
    if not 0 < threshold < float("inf"):
        raise ValueError(f"watchdog threshold must be positive and finite, got {threshold!r}")
    return float(threshold)


def resolve_watchdog(
    value: float | bool | Literal["env"] | None, env: Mapping[str, str] = os.environ
) -> float | None:
    """The watchdog threshold in seconds for ``run_polling(watchdog=value)``, or None for off.

    ``"env"`` reads :func:`watchdog_from_env` (on by default); ``True`` is on with the
    default threshold (not "1 second", which a bool would be as a number); ``False`` and
    :obj:`None` are off; a number is the threshold in seconds.

    Raises:
        ValueError: Not a positive, finite number of seconds, or a bad environment value.
    """
    if value == "env" and isinstance(value, str):
        return watchdog_from_env(env)
    if value is True:
        return _DEFAULT_THRESHOLD
    if value is False or value is None:
        return None
    return _checked_threshold(value)


def watchdog_from_env(env: Mapping[str, str] = os.environ) -> float | None:
    """Read the watchdog threshold from ``SAFE_POLLING_WATCHDOG``; on by default.

    Unset or empty, and ``1``/``true``/``yes``/``on``, mean on with the default
    threshold of 100 ms (it finds the blocking call that freezes a bot, for about
    0.5% of a core); a number is the threshold in **milliseconds** (``250`` =
    0.25 s); ``0``/``false``/``no``/``off`` turn it off. Note that ``1`` means
    "on", not "1 ms".

    .. versionchanged:: 0.1.0
        On when unset.

    Args:
        env: The environment to read.

    Returns:
        The threshold in seconds, or :obj:`None` when the watchdog is off.

    Raises:
        ValueError: If the value is none of the above.

    Example:
        .. code-block:: python

            threshold = watchdog_from_env()
            if threshold is not None:
                watchdog = LoopWatchdog(threshold=threshold, application=application)

    .. versionadded:: 0.1.0
    """
    raw = env.get(_ENV_VAR, "").strip().lower()
    if raw in ("0", "false", "no", "off"):
        return None
    if raw in ("", "1", "true", "yes", "on"):
        return _DEFAULT_THRESHOLD
    try:
        milliseconds = float(raw)
    except ValueError:
        milliseconds = float("nan")
    if not _MIN_ENV_MILLISECONDS <= milliseconds < float("inf"):
        raise ValueError(
            f"{_ENV_VAR} must be 1/true (on, 100 ms), 0/false (off) or a threshold in "
            f"milliseconds (at least {_MIN_ENV_MILLISECONDS:g}) such as 250; "
            f"got {redact(raw)[:40]!r}"
        )
    return milliseconds / 1000
