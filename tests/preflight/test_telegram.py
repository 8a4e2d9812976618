"""getMe and getWebhookInfo against the fake Bot API."""

from __future__ import annotations

import json
import logging

import pytest
from tests.preflight.conftest import assert_no_secrets

from safe_polling._preflight import PASSED_VERDICT, CheckStatus, PreflightReport, run_preflight
from safe_polling.testing import FakeBotAPI, make_token


def _check(report: PreflightReport, name: str) -> tuple[CheckStatus, str]:
    found = next(c for c in report.checks if c.name == name)
    return found.status, found.detail


async def _run(api: FakeBotAPI, token: str | None = None) -> PreflightReport:
    report = await run_preflight(
        token=token or api.token, base_url=api.base_url, env={}, render_yaml=False
    )
    assert_no_secrets(str(report) + json.dumps(report.to_dict()), token or api.token)
    return report


async def test_all_good(fake_bot_api: FakeBotAPI) -> None:
    report = await _run(fake_bot_api)
    assert report.ok
    status, detail = _check(report, "getMe")
    assert status is CheckStatus.OK
    assert f"@{fake_bot_api.username}" in detail
    assert _check(report, "webhook") == (CheckStatus.OK, "none set; 0 pending update(s)")
    assert report.lines()[-1] == PASSED_VERDICT
    assert str(report).endswith(PASSED_VERDICT)


async def test_rejected_token_is_one_clear_failure() -> None:
    async with FakeBotAPI(token=make_token()) as api:
        report = await _run(api, token=make_token())
    assert [c.name for c in report.failures] == ["getMe"]
    failure = report.failures[0]
    assert "token rejected by Telegram: revoke/copy it again from @BotFather" in failure.detail
    assert "Traceback" not in str(report)
    assert _check(report, "webhook")[0] is CheckStatus.SKIP
    assert report.lines()[-2:] == [
        "❌ Preflight failed: 1 problem(s)",
        f"   - getMe: {failure.detail}",
    ]


async def test_webhook_set_is_a_warning_showing_only_the_host(fake_bot_api: FakeBotAPI) -> None:
    secret_path = "hook-path-secret-4242"
    fake_bot_api.set_webhook(f"https://bot.example.com:8443/{secret_path}")
    fake_bot_api.set_webhook_error("Connection timed out")
    fake_bot_api.inject_message(42, "hello")
    fake_bot_api.inject_message(42, "again")
    report = await _run(fake_bot_api)
    assert report.ok  # warnings do not fail the preflight
    status, detail = _check(report, "webhook")
    assert status is CheckStatus.WARN
    assert "https://bot.example.com:8443/…" in detail
    assert "will be deleted before polling" in detail
    assert "2 pending update(s)" in detail
    assert "last error: Connection timed out" in detail
    assert secret_path not in str(report)
    assert "↳ " in str(report)  # the hint line under the warning
    assert report.verdict == PASSED_VERDICT


async def test_template_base_url(fake_bot_api: FakeBotAPI) -> None:
    template = fake_bot_api.base_url + "{token}"
    report = await run_preflight(
        token=fake_bot_api.token, base_url=template, env={}, render_yaml=False
    )
    assert report.ok


async def test_no_log_line_carries_the_token(
    fake_bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await _run(fake_bot_api)
    assert_no_secrets(caplog.text, fake_bot_api.token)
    assert "HTTP Request" not in caplog.text


async def test_preflight_sends_nothing_that_changes_state(fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.set_webhook("https://bot.example.com/x")
    await _run(fake_bot_api)
    methods = {call.method for call in fake_bot_api.calls}
    assert methods == {"getMe", "getWebhookInfo"}
