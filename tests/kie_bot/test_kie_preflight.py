"""The example's environment passes the preflight against the fakes, KIE check included."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from kie_bot.config import load_settings
from kie_bot.kie.fake_server import FakeKie
from kie_bot.preflight import LOW_CREDITS, kie_check
from safe_polling import CheckStatus, run_preflight
from safe_polling.testing import FakeBotAPI

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kie_bot"


def example_env(api: FakeBotAPI, kie: FakeKie, tmp_path: Path) -> dict[str, str]:
    """What render.yaml gives the bot, pointed at the fakes and a local database."""
    return {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "KIE_API_KEY": kie.api_key,
        "KIE_API_URL": kie.api_url,
        "KIE_UPLOAD_URL": kie.upload_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kie.sqlite3'}",
        "SAFE_POLLING_LEASE": "file",
        "SAFE_POLLING_LEASE_FILE": str(tmp_path / "poll.lock"),
    }


async def test_cli_preflight_passes_with_the_examples_env(
    fake_kie: FakeKie, tmp_path: Path
) -> None:
    async with FakeBotAPI() as api:
        env = {**os.environ, **example_env(api, fake_kie, tmp_path)}
        # Not subprocess.run: the fakes answer from this test's event loop.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "safe_polling",
            "preflight",
            "--json",
            env=env,
            cwd=EXAMPLE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    output = out.decode()
    assert proc.returncode == 0, output
    report = json.loads(output)
    assert report["ok"] is True
    assert api.token.split(":")[1] not in output
    assert fake_kie.api_key not in output


async def run_with_kie_check(api: FakeBotAPI, env: dict[str, str]) -> CheckStatus:
    settings = load_settings(env)
    report = await run_preflight(
        token=api.token,
        base_url=api.base_url,
        database_url=env["DATABASE_URL"],
        render_yaml=False,
        extra_checks=[kie_check(settings, timeout=2)],
    )
    (kie,) = [c for c in report.checks if c.name == "kie.ai"]
    return kie.status


async def test_kie_check_ok_when_key_works_and_account_is_funded(
    fake_kie: FakeKie, tmp_path: Path
) -> None:
    async with FakeBotAPI() as api:
        status = await run_with_kie_check(api, example_env(api, fake_kie, tmp_path))
    assert status is CheckStatus.OK


@pytest.mark.parametrize(
    ("change", "expected"),
    [("bad_key", CheckStatus.FAIL), ("low_credits", CheckStatus.WARN), ("down", CheckStatus.FAIL)],
)
async def test_kie_check_reports_bad_key_low_credits_and_unreachable(
    fake_kie: FakeKie, tmp_path: Path, change: str, expected: CheckStatus
) -> None:
    async with FakeBotAPI() as api:
        env = example_env(api, fake_kie, tmp_path)
        if change == "bad_key":
            env["KIE_API_KEY"] = "not-the-right-key-0123456789"
        elif change == "low_credits":
            fake_kie.credits = LOW_CREDITS - 1
        else:
            env["KIE_API_URL"] = "http://127.0.0.1:9"  # discard port: refused
        status = await run_with_kie_check(api, env)
    assert status is expected
