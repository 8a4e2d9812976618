"""Token checks and unreachable servers: no Bot API needed."""

from __future__ import annotations

import json

import anyio
import pytest
from tests.preflight.conftest import TOKEN, assert_no_secrets

from safe_polling._preflight import CheckStatus, PreflightReport, run_preflight
from safe_polling._preflight._telegram import api_base


def _status(report: PreflightReport, name: str) -> CheckStatus:
    return next(c.status for c in report.checks if c.name == name)


async def test_missing_token_fails_and_skips_network(dead_base_url: str) -> None:
    report = await run_preflight(env={}, base_url=dead_base_url, render_yaml=False)
    assert not report.ok
    assert _status(report, "token") is CheckStatus.FAIL
    for name in ("token format", "getMe", "webhook"):
        assert _status(report, name) is CheckStatus.SKIP
    assert report.verdict == "❌ Preflight failed: 1 problem(s)"
    assert "TELEGRAM_BOT_TOKEN" in str(report)


async def test_alias_is_named_never_the_value(dead_base_url: str) -> None:
    report = await run_preflight(
        env={"BOT_TOKEN": TOKEN}, base_url=dead_base_url, render_yaml=False
    )
    token = report.checks[0]
    assert token.status is CheckStatus.OK
    assert "BOT_TOKEN (alias of TELEGRAM_BOT_TOKEN)" in token.detail
    assert_no_secrets(str(report) + json.dumps(report.to_dict()))


async def test_two_different_tokens_warn(dead_base_url: str) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_TOKEN": TOKEN[:-1] + "X"}
    report = await run_preflight(env=env, base_url=dead_base_url, render_yaml=False)
    assert report.checks[0].status is CheckStatus.WARN
    assert_no_secrets(str(report), env["BOT_TOKEN"])


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("123456", "no ':'"),
        ("abc:" + "x" * 35, "not all digits"),
        ("123456:short", "has 5 characters, expected at least 30"),
        ("123456:" + "x" * 30 + "/y", "characters other than"),
        (" 123456:" + "x" * 35, "whitespace"),
        ('"123456:' + "x" * 35 + '"', "quotes"),
    ],
)
async def test_malformed_token_fails_once_and_skips_network(
    token: str, problem: str, hanging_port: int
) -> None:
    # The server would hang: the test finishing at all shows no network call was made.
    base = f"http://127.0.0.1:{hanging_port}/bot"
    with anyio.fail_after(10):
        report = await run_preflight(token=token, env={}, base_url=base, render_yaml=False)
    assert [c.name for c in report.failures] == ["token format"]
    assert problem in report.failures[0].detail
    assert _status(report, "getMe") is CheckStatus.SKIP
    assert_no_secrets(str(report), token.strip().strip('"'))


async def test_dead_port_fails_clearly(dead_base_url: str) -> None:
    with anyio.fail_after(15):
        report = await run_preflight(
            token=TOKEN, env={}, base_url=dead_base_url, timeout=2, render_yaml=False
        )
    get_me = report.failures[0]
    assert get_me.name == "getMe"
    assert "cannot connect to 127.0.0.1" in get_me.detail
    assert get_me.hint
    assert _status(report, "webhook") is CheckStatus.SKIP
    assert len(report.failures) == 1
    assert_no_secrets(str(report))


async def test_hanging_server_times_out(hanging_port: int) -> None:
    base = f"http://127.0.0.1:{hanging_port}/bot"
    with anyio.fail_after(15):
        report = await run_preflight(
            token=TOKEN, env={}, base_url=base, timeout=0.5, render_yaml=False
        )
    assert not report.ok
    assert "no answer from 127.0.0.1" in report.failures[0].detail
    assert "within 0.5s" in report.failures[0].detail
    assert_no_secrets(str(report))


async def test_not_a_bot_api_server(html_base_url: str) -> None:
    report = await run_preflight(
        token=TOKEN, env={}, base_url=html_base_url, timeout=5, render_yaml=False
    )
    assert "without a Bot API response" in report.failures[0].detail


async def test_base_url_from_env(dead_base_url: str) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": dead_base_url}
    report = await run_preflight(env=env, timeout=2, render_yaml=False)
    port = dead_base_url.split(":")[2].split("/")[0]
    assert f"127.0.0.1:{port}" in report.failures[0].detail


def test_base_url_forms_match_ptb() -> None:
    from telegram import Bot

    for base in ("http://127.0.0.1:8081/bot", "http://h/x/{token}/y", "http://h/{TOKEN}"):
        assert api_base(base, TOKEN) == Bot(TOKEN, base_url=base).base_url
