"""Faults the chaos run found, pinned down in-process: a cancelled poll, a database outage.

Real components throughout: the delivery tracker on a real SQLite store, PTB's real
Updater against the in-process fake Bot API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from safe_polling._delivery import DeliveryTracker, ProcessedUpdates
from safe_polling._polling import start_guarded, stop_guarded
from safe_polling.db import BalanceStore, DatabaseUnavailable, open_balance_store
from safe_polling.lease import bot_id_from_token
from safe_polling.testing import FakeBotAPI

FETCHED: list[dict[str, Any]] = [{"update_id": 7}, {"update_id": 8}]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[BalanceStore]:
    async with open_balance_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}") as opened:
        yield opened


async def tracker_on(store: BalanceStore, bot_id: int = 42) -> DeliveryTracker:
    processed = ProcessedUpdates(store, bot_id)
    await processed.open()
    return DeliveryTracker(processed)


async def test_a_poll_cancelled_during_the_dedupe_query_confirms_nothing(
    store: BalanceStore,
) -> None:
    """Updater.stop() cancels the getUpdates in flight, possibly inside the gate."""
    tracker = await tracker_on(store)
    accepting = asyncio.ensure_future(tracker.accept(FETCHED))
    await asyncio.sleep(0)  # now waiting for the "already handled?" query
    accepting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await accepting
    assert tracker.offset(0) <= 7  # 7 and 8 were never handed out: not confirmable
    assert await tracker.accept(FETCHED) == FETCHED  # fetched again, handed out this time


async def test_a_poll_whose_dedupe_query_fails_confirms_nothing(store: BalanceStore) -> None:
    tracker = await tracker_on(store)
    await store.aclose()  # the database goes away
    with pytest.raises(DatabaseUnavailable):
        await tracker.accept(FETCHED)
    assert tracker.offset(0) <= 7


async def test_stop_with_the_database_down_does_not_crash_and_confirms_what_was_handled(
    store: BalanceStore,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        started.set()
        await release.wait()

    async with FakeBotAPI() as api:
        tracker = await tracker_on(store, bot_id_from_token(api.token))
        app = api.application_builder().concurrent_updates(4).build()
        app.add_handler(MessageHandler(filters.TEXT, handle))
        await start_guarded(
            app,
            drop_updates=False,
            allowed_updates=None,
            poll_interval=0.0,
            timeout=1,
            error_callback=None,
            delivery=tracker,
        )
        try:
            api.inject_message(1, "in flight when the database goes down")
            await asyncio.wait_for(started.wait(), 10)
            await store.aclose()
            release.set()
        finally:
            await stop_guarded(app, call_post_stop=False, delivery=tracker)  # must not raise
        # Handled but not recorded (the database is down): confirming it is safe, since
        # a confirmed update is never delivered again, so no record is needed to skip it.
        assert api.stats.for_token(api.token).pending_count == 0
