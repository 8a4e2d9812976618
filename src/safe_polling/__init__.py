"""safe-polling: start, run and hand over a python-telegram-bot polling bot safely.

The public API is flat: everything a bot author needs is importable from
``safe_polling``; the balance store lives in :mod:`safe_polling.db`, the lease
backends in :mod:`safe_polling.lease` and the fake Bot API in
:mod:`safe_polling.testing`.
"""

from ._errors import PollingErrorCallback, logging_error_handler
from ._polling import safe_start_polling, safe_stop_polling
from ._redaction import install_redaction, redact
from ._run import run_polling

__version__ = "0.1.0"

__all__ = [
    "PollingErrorCallback",
    "__version__",
    "install_redaction",
    "logging_error_handler",
    "redact",
    "run_polling",
    "safe_start_polling",
    "safe_stop_polling",
]
