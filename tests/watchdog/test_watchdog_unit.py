"""LoopWatchdog on a bare event loop, its rate limit and SAFE_POLLING_WATCHDOG."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
import telegram
from telegram.ext import Application, CommandHandler, ConversationHandler, MessageHandler, filters

from safe_polling._watchdog import (
    LoopWatchdog,
    _handler_codes,
    _is_library,
    _RateLimiter,
    watchdog_from_env,
)

THRESHOLD = 0.1


def block_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "🐢" in r.getMessage()]


def crunch_numbers() -> None:
    time.sleep(0.3)


async def test_block_outside_any_handler_names_the_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with LoopWatchdog(threshold=THRESHOLD):
        await asyncio.sleep(0)
        crunch_numbers()
        await asyncio.sleep(0)
    [warning] = [w for w in block_warnings(caplog) if "crunch_numbers" in w]
    assert "by handler" not in warning
    assert "update_id" not in warning
    assert "test_watchdog_unit.py:" in warning


async def test_a_block_that_lasts_is_reported_while_it_lasts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    seen_while_blocked: list[str] = []

    def wait_for_the_stuck_warning() -> None:
        # Blocks the loop until the monitor thread has logged "still blocked"
        # (or 5 s pass): no guess about how long that takes.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            seen_while_blocked[:] = [w for w in ours() if "still blocked" in w]
            if seen_while_blocked:
                return
            time.sleep(0.01)

    def ours() -> list[str]:
        # Only the warnings about this block: on a loaded machine any other step of the
        # loop may also pass the 0.1 s threshold and be reported, rightly.
        return [w for w in block_warnings(caplog) if "in wait_for_the_stuck_warning" in w]

    async with LoopWatchdog(threshold=THRESHOLD, stuck_after=0.3):
        wait_for_the_stuck_warning()
    assert len(seen_while_blocked) == 1
    final = [w for w in ours() if "still blocked" not in w]
    assert len(final) == 1, final


async def test_start_stop_and_misuse() -> None:
    with pytest.raises(ValueError, match="threshold"):
        LoopWatchdog(threshold=0)
    watchdog = LoopWatchdog(threshold=THRESHOLD)
    await watchdog.start()
    with pytest.raises(RuntimeError, match="already running"):
        await watchdog.start()
    assert any(t.name == "safe-polling-watchdog" and t.daemon for t in threading.enumerate())
    await watchdog.stop()
    await watchdog.stop()  # idempotent
    assert not any(t.name == "safe-polling-watchdog" for t in threading.enumerate())
    await watchdog.start()  # restartable
    await watchdog.stop()


def test_rate_limiter_counts_what_it_held_back() -> None:
    now = [1000.0]
    limiter = _RateLimiter(60, clock=lambda: now[0])
    assert limiter.admit(("balance", "bot.py:1")) == 0
    assert limiter.admit(("balance", "bot.py:1")) is None
    assert limiter.admit(("balance", "bot.py:2")) == 0  # another line: its own budget
    now[0] += 30
    assert limiter.admit(("balance", "bot.py:1")) is None
    now[0] += 31
    assert limiter.admit(("balance", "bot.py:1")) == 2
    assert limiter.admit(("balance", "bot.py:1")) is None


async def test_report_after_a_quiet_period_counts_the_held_back_blocks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    now = [0.0]
    watchdog = LoopWatchdog(threshold=THRESHOLD, repeat_every=60)
    watchdog._limiter = _RateLimiter(60, clock=lambda: now[0])
    async with watchdog:
        for _ in range(3):
            crunch_numbers()
            await asyncio.sleep(0.05)  # let the loop tick between blocks
            # Wait (bounded) until the monitor thread has seen the block end.
            async with asyncio.timeout(5):
                while watchdog._blocked_after is not None:
                    await asyncio.sleep(0.01)
        now[0] = 61
        crunch_numbers()
    warnings = [w for w in block_warnings(caplog) if "crunch_numbers" in w]
    assert len(warnings) == 2
    assert "more such block" not in warnings[0]
    assert "(2 more such block(s) in the last 60 s were not logged)" in warnings[1]


def test_registered_callbacks_include_conversation_states() -> None:
    async def entry(*_: object) -> None: ...
    async def state(*_: object) -> None: ...
    async def fallback(*_: object) -> None: ...
    async def plain(*_: object) -> None: ...

    app = Application.builder().token("123:abc").build()
    app.add_handler(MessageHandler(filters.TEXT, plain))
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("a", entry)],
            states={1: [CommandHandler("b", state)]},
            fallbacks=[CommandHandler("c", fallback)],
        ),
        group=-1,
    )
    names = set(_handler_codes(app).values())
    assert {n.rsplit(".", 1)[-1] for n in names} == {"entry", "state", "fallback", "plain"}
    assert _handler_codes(None) == {}


def test_library_frames_are_not_user_code() -> None:
    assert _is_library(asyncio.__file__)
    assert _is_library(telegram.__file__)
    assert _is_library(LoopWatchdog.start.__code__.co_filename)
    assert _is_library("<frozen importlib._bootstrap>")
    assert not _is_library(__file__)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 0.1),  # on by default
        ("", 0.1),
        ("0", None),
        ("false", None),
        ("OFF", None),
        ("1", 0.1),
        ("true", 0.1),
        ("Yes", 0.1),
        ("250", 0.25),
        (" 40 ", 0.04),
        ("12.5", 0.0125),
        ("10", 0.01),
    ],
)
def test_env_parsing(value: str | None, expected: float | None) -> None:
    env = {} if value is None else {"SAFE_POLLING_WATCHDOG": value}
    assert watchdog_from_env(env) == expected


# "0.2" means 0.2 ms (the unit is milliseconds): jitter, not a block; refused.
@pytest.mark.parametrize("value", ["abc", "-5", "nan", "inf", "250ms", "1e999", "0.2", "9.9"])
def test_env_junk_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="SAFE_POLLING_WATCHDOG must be") as err:
        watchdog_from_env({"SAFE_POLLING_WATCHDOG": value})
    assert repr(value.lower()) in str(err.value)
