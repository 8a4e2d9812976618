"""Where redaction is hooked in: log records, handler output, warnings, exception hooks.

A logging *filter* only sees records of the logger it is attached to (not the
ones propagated from ``httpx``), and a handler filter misses handlers added
later, so the first layer is the log record factory, where every record is born:
its message, arguments, exception and stack text are masked there, which also
keeps logging's own ``--- Logging error ---`` report (it prints the raw ``msg``
and ``args``) clean.

The factory cannot see what arrives after it: ``extra=`` values (set on the record
by ``Logger.makeRecord`` after the factory returns), records rebuilt with
:func:`logging.makeLogRecord` (queue and socket listeners), and formatters that
call ``formatException`` themselves (JSON formatters). The second layer masks the
text every handler produces, by wrapping :meth:`logging.Handler.format` (the one
method all standard handlers call to turn a record into text).

Outside logging: :func:`warnings.formatwarning` (used both when warnings go to
stderr and when ``logging.captureWarnings`` routes them), and the default
:data:`sys.excepthook` and :func:`threading.excepthook`, which print an uncaught
exception (one escaping ``run_polling`` from ``post_init``, say) with its message.
A hook the application installed itself is left alone.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._redaction import redact

__all__ = ["install_hooks"]

_lock = threading.Lock()
_installed = False


def _redact_value(value: Any) -> Any:
    """A %-format argument with secrets masked, keeping numbers as numbers for ``%d``."""
    if isinstance(value, (int, float)) or value is None:
        return value
    return redact(value if isinstance(value, str) else repr(value))


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        # A malformed %-format: leave the error for logging to report, but
        # with masked values, since its report prints msg and args raw.
        record.msg = redact(str(record.msg))
        args = record.args
        if isinstance(args, dict):
            record.args = {k: _redact_value(v) for k, v in args.items()}
        elif isinstance(args, tuple):
            record.args = tuple(_redact_value(v) for v in args)
    else:
        record.msg = redact(message)
        record.args = None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        # Formatter uses a pre-set exc_text instead of formatting the exception
        # again, so the traceback (and the exception's message) is masked too.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)


def _install_handler_format() -> None:
    original = logging.Handler.format

    def format(self: logging.Handler, record: logging.LogRecord) -> str:
        return redact(original(self, record))

    format.__doc__ = original.__doc__
    logging.Handler.format = format  # type: ignore[method-assign]


def _install_formatwarning() -> None:
    original = warnings.formatwarning

    def formatwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        line: str | None = None,
    ) -> str:
        return redact(original(message, category, filename, lineno, line))

    warnings.formatwarning = formatwarning


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    if sys.stderr is not None:
        sys.stderr.write(redact(text))
        sys.stderr.flush()


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or sys.stderr is None:
        return  # as the default hook: a thread's SystemExit is silent
    name = args.thread.name if args.thread is not None else threading.get_ident()
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))
    sys.stderr.flush()


def _install_excepthooks() -> None:
    # Only replace the defaults: an application's own hook (Sentry, IPython) stays.
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = _thread_excepthook


_INSTALLERS: tuple[Callable[[], None], ...] = (
    _install_record_factory,
    _install_handler_format,
    _install_formatwarning,
    _install_excepthooks,
)


def install_hooks() -> bool:
    """Install every hook once; :obj:`True` on the call that installed them."""
    global _installed
    with _lock:
        if _installed:
            return False
        _installed = True
        for install in _INSTALLERS:
            install()
        return True
