"""The watchdog is on by default, and ``watchdog=True`` means the default threshold.

``watchdog=True`` silently meant a 1-second threshold (a bool is a number to
Python) while ``SAFE_POLLING_WATCHDOG=1`` meant on with 100 ms.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
from pathlib import Path

import pytest

from safe_polling import LoopWatchdog, watchdog_from_env
from safe_polling._watchdog import resolve_watchdog
from safe_polling.testing import FakeBotAPI

BOT = Path(__file__).with_name("_watchdog_bot.py")
ON = "👀 Event-loop watchdog on: blocks longer than"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, 0.1), (False, None), (None, None), (0.25, 0.25), (2, 2.0)],
)
def test_run_polling_argument(value: float | bool | None, expected: float | None) -> None:
    assert resolve_watchdog(value, env={}) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, 0.1), ({"SAFE_POLLING_WATCHDOG": "0"}, None), ({"SAFE_POLLING_WATCHDOG": "250"}, 0.25)],
)
def test_env_argument_is_on_unless_turned_off(env: dict[str, str], expected: float | None) -> None:
    assert resolve_watchdog("env", env=env) == expected
    assert watchdog_from_env(env) == expected


@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, "100", [1]])
def test_bad_argument_is_a_clear_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="watchdog threshold must be"):
        resolve_watchdog(value, env={})  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [True, False])
def test_loop_watchdog_refuses_a_bool_threshold(threshold: bool) -> None:
    with pytest.raises(ValueError, match="not bool"):
        LoopWatchdog(threshold=threshold)


async def _start_line(api: FakeBotAPI, **env: str) -> str:
    """The bot's output up to "Polling started successfully", after a clean SIGTERM stop."""
    environment = {
        key: value for key, value in os.environ.items() if key != "SAFE_POLLING_WATCHDOG"
    }
    environment |= {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": "",
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(30):
            while "Polling started successfully" not in "".join(seen):
                line = (await proc.stdout.readline()).decode()
                assert line, "".join(seen)
                seen.append(line)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return "".join(seen)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_ARG": "true"}, f"{ON} 100 ms"),
        ({}, f"{ON} 100 ms"),  # on by default
        ({"SAFE_POLLING_WATCHDOG": "1"}, f"{ON} 100 ms"),
        ({"WATCHDOG_ARG": "0.25"}, f"{ON} 250 ms"),
        ({"WATCHDOG_ARG": "false"}, None),
        ({"SAFE_POLLING_WATCHDOG": "0"}, None),
    ],
)
async def test_run_polling_starts_the_watchdog_as_configured(
    env: dict[str, str], expected: str | None
) -> None:
    async with FakeBotAPI() as api:
        output = await _start_line(api, **env)
    if expected is None:
        assert ON not in output, output
    else:
        assert expected in output, output
        assert output.count(ON) == 1
