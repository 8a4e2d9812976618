"""The result types of the preflight: one :class:`CheckResult` per check, one report."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from safe_polling._redaction import mask_secrets

PASSED_VERDICT = "✅ Preflight check passed: ready to start bot"


class CheckStatus(enum.StrEnum):
    """The outcome of one preflight check.

    Only :attr:`FAIL` makes the preflight fail; a warning is printed and the bot starts.

    .. versionadded:: 0.1.0
    """

    OK = "ok"
    """The check passed."""
    WARN = "warn"
    """Something to look at, but the bot can start (e.g. a webhook that will be deleted)."""
    FAIL = "fail"
    """The bot cannot start safely until this is fixed."""
    SKIP = "skip"
    """Not run, because an earlier check failed or it does not apply."""

    @property
    def mark(self) -> str:
        """The emoji shown in front of the check's line."""
        return _MARKS[self]


_MARKS = {
    CheckStatus.OK: "✅",
    CheckStatus.WARN: "⚠️",
    CheckStatus.FAIL: "❌",
    CheckStatus.SKIP: "⏭️",
}


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """What one preflight check found.

    Args:
        name: Short name of the check, e.g. ``"getMe"``.
        status: The outcome.
        detail: One line saying what was found. Never contains a secret.
        hint: For a check that is not ok, what the user should do about it.
        duration: Seconds the check took.

    Example:
        .. code:: python

            CheckResult("disk", CheckStatus.WARN, "92% full", hint="free some space")

    .. versionadded:: 0.1.0
    """

    name: str
    status: CheckStatus
    detail: str
    hint: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """:obj:`True` unless the status is :attr:`CheckStatus.FAIL`."""
        return self.status is not CheckStatus.FAIL

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready :obj:`dict`."""
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "hint": self.hint,
            "duration": round(self.duration, 4),
        }


CheckFunction = Callable[[], Awaitable[CheckResult]]


@dataclasses.dataclass(frozen=True)
class PreflightCheck:
    """An extra check for :func:`~safe_polling.run_preflight`, run beside the built-in ones.

    The function's result keeps its status, detail and hint; its name and duration are set
    by the preflight. An exception it raises, or running past ``timeout``, counts as a
    failure of this check only.

    Args:
        name: Short name shown in the report.
        func: Coroutine function without arguments returning a :class:`CheckResult`.
        timeout: Seconds before the check fails; :obj:`None` uses the preflight's timeout.

    Example:
        .. code:: python

            async def kie_key() -> CheckResult:
                if os.environ.get("KIE_API_KEY"):
                    return CheckResult("KIE_API_KEY", CheckStatus.OK, "set")
                return CheckResult(
                    "KIE_API_KEY", CheckStatus.FAIL, "not set", hint="set it in Render"
                )

            report = await run_preflight(extra_checks=[PreflightCheck("KIE_API_KEY", kie_key)])

    .. versionadded:: 0.1.0
    """

    name: str
    func: CheckFunction
    timeout: float | None = None


@dataclasses.dataclass(frozen=True)
class PreflightReport:
    """All check results of one preflight, with the verdict.

    ``str(report)`` is the text printed at start-up: one aligned line per check, the hint
    indented under each check that is not ok, then the verdict.

    Args:
        checks: The results, in report order.

    .. versionadded:: 0.1.0
    """

    checks: Sequence[CheckResult]

    @property
    def ok(self) -> bool:
        """:obj:`True` when no check failed (warnings and skips do not count)."""
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [check for check in self.checks if not check.ok]

    @property
    def verdict(self) -> str:
        """The verdict line: the pass line, or ``❌ Preflight failed: N problem(s)``."""
        if self.ok:
            return PASSED_VERDICT
        return f"❌ Preflight failed: {len(self.failures)} problem(s)"

    def lines(self) -> list[str]:
        """Return the report as printable lines (no trailing newlines)."""
        width = max((len(check.name) for check in self.checks), default=0)
        out: list[str] = []
        for check in self.checks:
            out.append(f"{check.status.mark} {check.name.ljust(width)}  {check.detail}")
            if check.hint and check.status is not CheckStatus.OK:
                out.append(f"   {' ' * width}  ↳ {check.hint}")
        out.append(self.verdict)
        out.extend(f"   - {check.name}: {check.detail}" for check in self.failures)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready :obj:`dict` (``ok``, ``verdict``, ``checks``)."""
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "checks": [check.to_dict() for check in self.checks],
        }


def scrub_result(result: CheckResult, secrets: Iterable[str]) -> CheckResult:
    """Return ``result`` with every secret removed from its name, detail and hint."""
    secrets = tuple(secrets)
    return dataclasses.replace(
        result,
        name=mask_secrets(result.name, secrets),
        detail=mask_secrets(result.detail, secrets),
        hint=mask_secrets(result.hint, secrets),
    )
