"""Bad input to the command gives one clear line, never a traceback.

Before: ``--timeout nan`` crashed the database check ("deadline must not be NaN"),
and ``DATABASE_URL='postgresql://u:p@[::1'`` raised ValueError out of
``safe-polling preflight``.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
import pytest
from tests.preflight.conftest import PASSWORD, assert_no_secrets

from safe_polling._cli import main
from safe_polling.testing import FakeBotAPI


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "NaN", "1e999"])
def test_timeout_must_be_positive_and_finite(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["preflight", f"--timeout={value}"], env={})
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --timeout: must be a positive number of seconds, not {value!r}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("url", "database", "lease"),
    [
        (
            f"postgresql://u:{PASSWORD}@[::1",
            "malformed DATABASE_URL: malformed host (an IPv6 address needs [...])",
            "the PostgreSQL lease URL is not a valid URL (malformed host or port)",
        ),
        (
            f"postgresql://u:{PASSWORD}@[::1]:99999/db",
            "malformed DATABASE_URL: the port is not a number between 1 and 65535",
            "the PostgreSQL lease URL is not a valid URL (malformed host or port)",
        ),
    ],
)
async def test_malformed_database_url_is_one_line_per_check(
    fake_bot_api: FakeBotAPI,
    capsys: pytest.CaptureFixture[str],
    url: str,
    database: str,
    lease: str,
) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": fake_bot_api.token,
        "TELEGRAM_BASE_URL": fake_bot_api.base_url,
        "DATABASE_URL": url,
    }
    with anyio.fail_after(30):
        code = await anyio.to_thread.run_sync(lambda: main(["preflight", "--no-render"], env=env))
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1
    assert f"❌ database      {database}" in text
    assert f"❌ lease         {lease}" in text
    assert "Traceback" not in text
    assert "crashed" not in text
    assert_no_secrets(text, fake_bot_api.token)


async def test_malformed_redis_url_is_one_line(
    fake_bot_api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": fake_bot_api.token,
        "TELEGRAM_BASE_URL": fake_bot_api.base_url,
        "SAFE_POLLING_LEASE": "redis",
        "REDIS_URL": f"redis://:{PASSWORD}@[::1",
    }
    with anyio.fail_after(30):
        code = await anyio.to_thread.run_sync(lambda: main(["preflight", "--no-render"], env=env))
    text = capsys.readouterr().out
    assert code == 1
    assert (
        "❌ lease         the Redis lease URL is not a valid URL (malformed host or port)" in text
    )
    assert_no_secrets(text, fake_bot_api.token)
