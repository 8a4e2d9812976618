"""The preflight: check token, Telegram, webhook, database, lease and render.yaml at start-up.

Public names are re-exported from :mod:`safe_polling`.
"""

from safe_polling._preflight._report import (
    PASSED_VERDICT,
    CheckResult,
    CheckStatus,
    PreflightCheck,
    PreflightReport,
)
from safe_polling._preflight._runner import run_preflight

__all__ = [
    "PASSED_VERDICT",
    "CheckResult",
    "CheckStatus",
    "PreflightCheck",
    "PreflightReport",
    "run_preflight",
]
