"""Keep redaction tests from leaking global state into each other.

Secrets registered by a test stay registered for the rest of the process unless
restored; loggers' levels and handlers changed by a test likewise.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pytest

from safe_polling import _redaction

__all__ = ["restore_logging_and_secrets", "secrets_restored"]

_LOGGERS = ("", "httpx", "telegram", "py.warnings", "leak.test")


@contextlib.contextmanager
def secrets_restored() -> Iterator[None]:
    """Put the registered secrets back as they were on leaving."""
    saved = (
        set(_redaction._secrets),
        _redaction._secrets_re,
        _redaction._literal_secrets_re,
        _redaction._literal_secrets,
    )
    try:
        yield
    finally:
        with _redaction._lock:
            _redaction._secrets.clear()
            _redaction._secrets.update(saved[0])
            _redaction._secrets_re, _redaction._literal_secrets_re = saved[1], saved[2]
            _redaction._literal_secrets = saved[3]


@pytest.fixture
def restore_logging_and_secrets() -> Iterator[None]:
    """Restore the registered secrets and the levels/handlers of the loggers tests touch."""
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in _LOGGERS
    }
    try:
        with secrets_restored():
            yield
    finally:
        for name, (level, handlers) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.handlers[:] = handlers
