"""Keep redaction tests from leaking global state into each other.

Secrets registered by a test stay registered for the rest of the process unless
restored; loggers' levels and handlers changed by a test likewise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from safe_polling import _redaction

__all__ = ["restore_logging_and_secrets"]

_LOGGERS = ("", "httpx", "telegram", "py.warnings", "leak.test")


@pytest.fixture
def restore_logging_and_secrets() -> Iterator[None]:
    """Restore the registered secrets and the levels/handlers of the loggers tests touch."""
    secrets = set(_redaction._secrets)
    secrets_re = _redaction._secrets_re
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in _LOGGERS
    }
    try:
        yield
    finally:
        with _redaction._lock:
            _redaction._secrets.clear()
            _redaction._secrets.update(secrets)
            _redaction._secrets_re = secrets_re
        for name, (level, handlers) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.handlers[:] = handlers
