"""safe-polling: start, run and hand over a python-telegram-bot polling bot safely.

The public API is flat: everything a bot author needs is importable from
``safe_polling``; the balance store lives in :mod:`safe_polling.db`, the lease
backends in :mod:`safe_polling.lease` and the fake Bot API in
:mod:`safe_polling.testing`.
"""

from ._errors import PollingErrorCallback, logging_error_handler
from ._health import HealthServer, health_port_from_env
from ._ordering import OrderedUpdateProcessor, PerChatUpdateProcessor, chat_key
from ._persistence import DatabasePersistence
from ._polling import safe_start_polling, safe_stop_polling
from ._preflight import CheckResult, CheckStatus, PreflightCheck, PreflightReport, run_preflight
from ._redaction import install_redaction, redact
from ._render import RenderFinding, check_render_yaml
from ._run import run_polling
from ._watchdog import LoopWatchdog, watchdog_from_env

__version__ = "0.1.0"

# Redaction is installed on import, not only by run_polling: PTB logs the API
# URLs with the token when the Bot is built, before run_polling is called.
install_redaction()

__all__ = [
    "CheckResult",
    "CheckStatus",
    "DatabasePersistence",
    "HealthServer",
    "LoopWatchdog",
    "OrderedUpdateProcessor",
    "PerChatUpdateProcessor",
    "PollingErrorCallback",
    "PreflightCheck",
    "PreflightReport",
    "RenderFinding",
    "__version__",
    "chat_key",
    "check_render_yaml",
    "health_port_from_env",
    "install_redaction",
    "logging_error_handler",
    "redact",
    "run_polling",
    "run_preflight",
    "safe_start_polling",
    "safe_stop_polling",
    "watchdog_from_env",
]
