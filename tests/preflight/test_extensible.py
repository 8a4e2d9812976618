"""Lease, render.yaml and extra checks inside the preflight; the report's shape."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from tests.preflight.conftest import TOKEN

from safe_polling._preflight import (
    PASSED_VERDICT,
    CheckResult,
    CheckStatus,
    PreflightCheck,
    PreflightReport,
    run_preflight,
)
from safe_polling.lease import FileLease, LeaseError, PostgresLease

CASES = Path(__file__).parents[1] / "render" / "cases"


async def _only(**kwargs: object) -> PreflightReport:
    """Run the preflight with a missing token, so only the checks under test matter."""
    kwargs.setdefault("render_yaml", False)
    return await run_preflight(env={}, **kwargs)  # type: ignore[arg-type]


def _named(report: PreflightReport, name: str) -> CheckResult:
    return next(c for c in report.checks if c.name == name)


async def test_file_lease_free_then_held_by_another(tmp_path: Path) -> None:
    path = tmp_path / "bot.lock"
    mine, other = FileLease(path, bot_id=TOKEN), FileLease(path, bot_id=TOKEN)
    try:
        free = _named(await _only(lease=mine), "lease")
        assert free.status is CheckStatus.OK
        assert free.detail.endswith(": free")
        assert await other.try_acquire()
        held = _named(await _only(lease=mine), "lease")
        assert held.status is CheckStatus.WARN
        assert "held by host=" in held.detail
        assert "pid=" in held.detail
        assert "this instance will stand by" in held.detail
        assert TOKEN.partition(":")[2] not in held.detail
        own = _named(await _only(lease=other), "lease")
        assert (own.status, own.detail.endswith("held by this process")) == (CheckStatus.OK, True)
    finally:
        await other.aclose()
        await mine.aclose()


@pytest.mark.postgres
async def test_postgres_lease_free(pg_dsn: str) -> None:
    lease = PostgresLease(pg_dsn, bot_id=TOKEN, name="preflight-test")
    try:
        result = _named(await _only(lease=lease), "lease")
    finally:
        await lease.aclose()
    assert result.status is CheckStatus.OK, result.detail
    assert "postgres lease" in result.detail


@pytest.mark.postgres
async def test_postgres_lease_unreachable_is_a_warning_to_stand_by(dead_port: int) -> None:
    # A failure would exit 1 and put the bot into the platform's restart loop.
    lease = PostgresLease(f"postgresql://u:pw-xyz-123@127.0.0.1:{dead_port}/db", bot_id=TOKEN)
    try:
        result = _named(await _only(lease=lease, timeout=3), "lease")
    finally:
        await lease.aclose()
    assert result.status is CheckStatus.WARN
    assert "backend unreachable" in result.detail
    assert "stand by and retry" in result.detail
    assert "pw-xyz-123" not in result.detail + result.hint


class _BrokenLease:
    def describe(self) -> str:
        return "broken lease"

    async def holder(self) -> None:
        raise LeaseError("cannot reach the lease server")


async def test_lease_error_is_a_failure() -> None:
    result = _named(await _only(lease=_BrokenLease()), "lease")
    assert result.status is CheckStatus.FAIL
    assert "cannot reach the lease server" in result.detail


async def test_extra_checks_ok_warn_fail_crash_and_hang() -> None:
    async def ok() -> CheckResult:
        return CheckResult("ignored name", CheckStatus.OK, "fine")

    async def warn() -> CheckResult:
        return CheckResult("w", CheckStatus.WARN, "hmm", hint="look at it")

    async def crash() -> CheckResult:
        raise RuntimeError("kaboom")

    async def hang() -> CheckResult:
        await anyio.sleep_forever()
        raise AssertionError

    checks = [
        PreflightCheck("extra ok", ok),
        PreflightCheck("extra warn", warn),
        PreflightCheck("extra crash", crash),
        PreflightCheck("extra hang", hang, timeout=0.2),
    ]
    with anyio.fail_after(15):
        report = await run_preflight(token=None, env={}, render_yaml=False, extra_checks=checks)
    statuses = {c.name: c.status for c in report.checks if c.name.startswith("extra")}
    assert statuses == {
        "extra ok": CheckStatus.OK,
        "extra warn": CheckStatus.WARN,
        "extra crash": CheckStatus.FAIL,
        "extra hang": CheckStatus.FAIL,
    }
    assert "kaboom" in _named(report, "extra crash").detail
    assert "no answer within 0.2s" in _named(report, "extra hang").detail
    assert report.verdict == "❌ Preflight failed: 3 problem(s)"  # token, crash, hang


async def test_render_yaml_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = _named(await _only(render_yaml=CASES / "err_free_worker.yaml"), "render.yaml")
    assert broken.status is CheckStatus.FAIL
    assert "plan: free is not available" in broken.detail
    warned = _named(await _only(render_yaml=CASES / "warn_seed_autodeploy.yaml"), "render.yaml")
    assert warned.status is CheckStatus.WARN
    # None means ./render.yaml when it exists, and no check at all when it does not.
    monkeypatch.chdir(tmp_path)
    report = await run_preflight(env={})
    assert "render.yaml" not in [c.name for c in report.checks]
    (tmp_path / "render.yaml").write_text((CASES / "err_web_no_port.yaml").read_text())
    auto = _named(await run_preflight(env={}), "render.yaml")
    assert "Port scan timeout" in auto.detail


def test_report_text_and_json() -> None:
    checks = [
        CheckResult("token", CheckStatus.OK, "from TELEGRAM_BOT_TOKEN"),
        CheckResult("webhook", CheckStatus.WARN, "set", hint="it will be deleted"),
        CheckResult("db", CheckStatus.SKIP, "DATABASE_URL not set"),
    ]
    report = PreflightReport(checks)
    assert report.ok
    assert report.lines() == [
        "✅ token    from TELEGRAM_BOT_TOKEN",
        "⚠️ webhook  set",
        "            ↳ it will be deleted",
        "⏭️ db       DATABASE_URL not set",
        PASSED_VERDICT,
    ]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True
    assert [c["status"] for c in data["checks"]] == ["ok", "warn", "skip"]
    failed = PreflightReport([*checks, CheckResult("getMe", CheckStatus.FAIL, "nope", "fix")])
    assert not failed.ok
    assert failed.lines()[-2:] == ["❌ Preflight failed: 1 problem(s)", "   - getMe: nope"]
