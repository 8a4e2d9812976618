"""safe-polling: start, run and hand over a python-telegram-bot polling bot safely.

The public API is flat: everything a bot author needs is importable from
``safe_polling``; the balance store lives in :mod:`safe_polling.db`, the lease
backends in :mod:`safe_polling.lease` and the fake Bot API in
:mod:`safe_polling.testing`.
"""

from typing import TYPE_CHECKING

from ._errors import PollingErrorCallback, logging_error_handler
from ._health import HealthServer, health_port_from_env
from ._lazy import lazy_getattr
from ._metrics import metrics_registry
from ._ordering import OrderedUpdateProcessor, PerChatUpdateProcessor, chat_key
from ._persistence import DatabasePersistence
from ._polling import safe_start_polling, safe_stop_polling
from ._redaction import install_redaction, redact
from ._run import run_polling
from ._watchdog import LoopWatchdog, watchdog_from_env

if TYPE_CHECKING:
    from ._preflight import (
        CheckResult,
        CheckStatus,
        PreflightCheck,
        PreflightReport,
        run_preflight,
    )
    from ._render import RenderFinding, check_render_yaml

__version__ = "0.1.0"

# Redaction is installed on import, not only by run_polling: PTB logs the API
# URLs with the token when the Bot is built, before run_polling is called.
install_redaction()

# Imported on first use (PEP 562): the preflight's database drivers and the render.yaml
# checker cost a bot ~60 ms of start-up it does not need (benchmarks/startup_bench.py).
__getattr__ = lazy_getattr(
    __name__,
    {
        "CheckResult": "._preflight",
        "CheckStatus": "._preflight",
        "PreflightCheck": "._preflight",
        "PreflightReport": "._preflight",
        "run_preflight": "._preflight",
        "RenderFinding": "._render",
        "check_render_yaml": "._render",
    },
)


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
    "metrics_registry",
    "redact",
    "run_polling",
    "run_preflight",
    "safe_start_polling",
    "safe_stop_polling",
    "watchdog_from_env",
]
