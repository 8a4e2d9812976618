"""The bot's own preflight check: is KIE.ai reachable with this key, and funded?

Registered with ``run_polling(..., preflight_checks=[kie_check(settings)])``, it runs
beside the library's checks (token, getMe, webhook, database, lease) and prints one
line in the same report.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from safe_polling import CheckResult, CheckStatus, PreflightCheck

from .config import Settings
from .kie.client import KieClient
from .kie.errors import KieAuthError, KieError

__all__ = ["kie_check"]

# Below this many credits on the KIE account, generations will soon fail with 402.
LOW_CREDITS = 100


def kie_check(settings: Settings, *, timeout: float = 5.0) -> PreflightCheck:
    """A preflight check that asks KIE.ai for the account's credits.

    ok: the key works and the account has credits; warn: fewer than
    :data:`LOW_CREDITS`; fail: the key is rejected, or KIE.ai is unreachable.
    """

    async def check() -> CheckResult:
        client = KieClient(
            settings.kie_api_key,
            api_url=settings.kie_api_url,
            upload_url=settings.kie_upload_url,
            timeout=timeout,
            attempts=1,
        )
        async with client:
            try:
                credits = await client.get_credits()
            except KieAuthError:
                return CheckResult(
                    "kie.ai",
                    CheckStatus.FAIL,
                    "KIE_API_KEY rejected by KIE.ai (401)",
                    "copy the key again from the KIE.ai dashboard into KIE_API_KEY",
                )
            except KieError as exc:
                return CheckResult(
                    "kie.ai",
                    CheckStatus.FAIL,
                    f"KIE.ai not usable: {exc}",
                    "check KIE_API_URL and KIE.ai's status page",
                )
        if credits < LOW_CREDITS:
            return CheckResult(
                "kie.ai",
                CheckStatus.WARN,
                f"only {credits} credits left on the KIE.ai account",
                "top up the KIE.ai account, or generations will fail (and be refunded)",
            )
        return CheckResult(
            "kie.ai", CheckStatus.OK, f"reachable; {credits} credits on the account"
        )

    return PreflightCheck("kie.ai", check, timeout=timeout + 1)
