"""LoopWatchdog beside a real PTB Application polling the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, ConversationHandler

import safe_polling
from safe_polling._watchdog import LoopWatchdog
from safe_polling.testing import FakeBotAPI

USER = 4242
THRESHOLD = 0.1
App = Application[Any, Any, Any, Any, Any, Any]


def get_user_balance() -> int:
    time.sleep(0.3)  # BLOCKING: the sync call the watchdog must find
    return 100


def blocking_line() -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(
        n
        for n, line in enumerate(lines, 1)
        if line.endswith("# BLOCKING: the sync call the watchdog must find")
    )


async def balance(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(f"balance: {get_user_balance()}")


async def polite(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await asyncio.sleep(0.3)
    await update.message.reply_text("balance: 100")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(conflict_delay=0.05) as fake:
        yield fake


@pytest.fixture
async def polling(api: FakeBotAPI) -> AsyncIterator[App]:
    app = api.application_builder().build()
    assert await safe_polling.safe_start_polling(app) is True
    try:
        yield app
    finally:
        await safe_polling.safe_stop_polling(app)


def block_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "safe_polling" and r.levelno == logging.WARNING and "🐢" in r.getMessage()
    ]


async def send(api: FakeBotAPI, text: str) -> int:
    """Inject *text*, wait for the bot's answer, return the update id."""
    after = len(api.sent())
    update = api.inject_message(USER, text)
    await api.wait_for_text(USER, "balance", after=after, timeout=10)
    return int(update["update_id"])


async def test_blocking_handler_is_named_with_its_update_and_line(
    api: FakeBotAPI,
    polling: App,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    polling.add_handler(CommandHandler("balance", balance))
    watchdog = LoopWatchdog(threshold=THRESHOLD, application=polling)
    async with watchdog:
        update_id = await send(api, "/balance")
    [warning] = [w for w in block_warnings(caplog) if "'balance'" in w]
    assert f"by handler 'balance' (update_id={update_id}, chat_id={USER}, user_id={USER})" in (
        warning
    )
    assert f"test_watchdog_polling.py:{blocking_line()} in get_user_balance" in warning
    assert "use safe_polling.db or to_async" in warning
    match = re.search(r"blocked for (\d+) ms", warning)
    assert match is not None
    # The gap is measured between two heartbeats around the sleep: never shorter.
    assert int(match.group(1)) >= 300
    assert watchdog.blocks >= 1


async def test_non_blocking_handler_gets_no_warning(
    api: FakeBotAPI,
    polling: App,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    polling.add_handler(CommandHandler("balance", polite))
    async with LoopWatchdog(threshold=THRESHOLD, application=polling):
        await send(api, "/balance")
        await send(api, "/balance")
    # A loaded test machine may stall the loop now and then; what must never
    # happen is blaming a handler that only awaits.
    assert not [w for w in block_warnings(caplog) if "polite" in w]


async def test_same_handler_and_line_is_reported_once_per_period(
    api: FakeBotAPI,
    polling: App,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    polling.add_handler(CommandHandler("balance", balance))
    watchdog = LoopWatchdog(threshold=THRESHOLD, application=polling, repeat_every=3600)
    async with watchdog:
        await send(api, "/balance")
        await send(api, "/balance")
        await send(api, "/balance")
    assert watchdog.blocks >= 3
    assert len([w for w in block_warnings(caplog) if "'balance'" in w]) == 1


async def test_every_block_is_reported_without_rate_limit(
    api: FakeBotAPI,
    polling: App,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    polling.add_handler(CommandHandler("balance", balance))
    async with LoopWatchdog(threshold=THRESHOLD, application=polling, repeat_every=0):
        first = await send(api, "/balance")
        second = await send(api, "/balance")
    warnings = [w for w in block_warnings(caplog) if "'balance'" in w]
    assert len(warnings) == 2
    assert f"update_id={first}," in warnings[0]
    assert f"update_id={second}," in warnings[1]


async def test_handler_in_a_conversation_state_is_named(
    api: FakeBotAPI,
    polling: App,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def begin(update: Update, _: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None
        await update.message.reply_text("balance? say /amount")
        return 1

    async def amount(update: Update, _: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None
        await update.message.reply_text(f"balance: {get_user_balance()}")
        return ConversationHandler.END

    polling.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("begin", begin)],
            states={1: [CommandHandler("amount", amount)]},
            fallbacks=[],
        ),
        group=3,
    )
    async with LoopWatchdog(threshold=THRESHOLD, application=polling):
        await send(api, "/begin")
        update_id = await send(api, "/amount")
    [warning] = [w for w in block_warnings(caplog) if "get_user_balance" in w]
    assert "by handler 'test_handler_in_a_conversation_state_is_named.<locals>.amount'" in (
        warning
    )
    assert f"update_id={update_id}," in warning


async def test_handler_is_named_without_the_application(
    api: FakeBotAPI,
    polling: App,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    polling.add_handler(CommandHandler("balance", balance))
    async with LoopWatchdog(threshold=THRESHOLD):  # found through PTB's handle_update frame
        update_id = await send(api, "/balance")
    [warning] = [w for w in block_warnings(caplog) if "get_user_balance" in w]
    assert f"by handler 'balance' (update_id={update_id}," in warning
