"""At-least-once fetching, effectively-once handling, with real subprocesses."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from safe_polling.db import open_balance_store
from safe_polling.testing import FakeBotAPI

from .conftest import bot_process, eventually

USER = 5150


def replies(api: FakeBotAPI, text: str) -> int:
    return sum(1 for s in api.sent(USER) if s.text == f"done {text}")


async def handler_runs(url: str) -> dict[int, int]:
    async with open_balance_store(url) as store:
        rows = await store.fetch_all(
            "SELECT update_id, COUNT(*) AS n FROM handler_runs GROUP BY update_id"
        )
    return {int(r["update_id"]): int(r["n"]) for r in rows}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


async def test_update_in_flight_at_sigkill_is_handled_by_the_next_instance(
    database_url: str,
) -> None:
    sqlite_url = database_url
    async with FakeBotAPI() as api:
        async with bot_process(api.base_url, api.token, sqlite_url) as first:
            await first.wait_for_line("Polling started successfully")
            assert "Delivery: at-least-once" in first.output
            slow = api.inject_message(USER, "slow:30")
            fast = api.inject_message(USER, "fast")
            await api.wait_for_text(USER, "done fast", timeout=15)
            await eventually(lambda: _has_run(sqlite_url, slow["update_id"]))
            await eventually(lambda: _recorded(sqlite_url, fast["update_id"]))
            # "slow" is in its handler, "fast" is handled and recorded; crash now.
            assert await first.signal_and_wait(signal.SIGKILL) == -signal.SIGKILL
        assert replies(api, "slow:30") == 0
        async with bot_process(api.base_url, api.token, sqlite_url, BOT_SLOW_CAP="0.1") as second:
            await second.wait_for_line("Polling started successfully")
            await api.wait_for_text(USER, "done slow:30", timeout=45)
            await eventually(lambda: api.stats.for_token(api.token).pending_count == 0)
            assert await second.signal_and_wait(signal.SIGTERM) == 0
    runs = await handler_runs(sqlite_url)
    assert runs[fast["update_id"]] == 1, "a handled update was handled again"
    assert runs[slow["update_id"]] == 2  # started by the dead leader, finished by the next
    assert replies(api, "fast") == 1
    assert "Skipped 1 re-delivered update(s) already handled" in second.output
    async with open_balance_store(sqlite_url) as store:
        assert await store.get_user_balance_async(USER) == 2


async def _recorded(url: str, update_id: int) -> bool:
    async with open_balance_store(url) as store:
        row = await store.fetch_one(
            "SELECT 1 AS x FROM safe_polling_processed_updates WHERE update_id = $1", update_id
        )
    return row is not None


async def _has_run(url: str, update_id: int) -> bool:
    return update_id in await handler_runs(url)


async def test_at_most_once_loses_the_update_in_flight_at_sigkill(sqlite_url: str) -> None:
    """The trade-off the default avoids: PTB's own confirm-on-fetch."""
    env = {"SAFE_POLLING_DELIVERY": "at-most-once"}
    async with FakeBotAPI() as api:
        async with bot_process(api.base_url, api.token, sqlite_url, **env) as first:
            await first.wait_for_line("Polling started successfully")
            slow = api.inject_message(USER, "slow:30")
            await eventually(lambda: _has_run(sqlite_url, slow["update_id"]))
            api.inject_message(USER, "fast")  # its getUpdates confirms "slow"
            await api.wait_for_text(USER, "done fast", timeout=15)
            # Confirmed to Telegram while its handler still runs: nothing left to re-deliver.
            await eventually(lambda: api.stats.for_token(api.token).pending_count == 0)
            assert replies(api, "slow:30") == 0
            await first.signal_and_wait(signal.SIGKILL)
        assert api.pending_updates() == [], "a next leader would still get the update"
    assert replies(api, "slow:30") == 0
    assert "Delivery: at-most-once" in first.output


async def test_sigterm_finishes_in_flight_updates_and_confirms_them(sqlite_url: str) -> None:
    async with FakeBotAPI() as api:
        async with bot_process(api.base_url, api.token, sqlite_url) as bot:
            await bot.wait_for_line("Polling started successfully")
            slow = api.inject_message(USER, "slow:1.5")
            await eventually(lambda: _has_run(sqlite_url, slow["update_id"]))
            assert await bot.signal_and_wait(signal.SIGTERM) == 0
        assert replies(api, "slow:1.5") == 1
        assert api.stats.for_token(api.token).pending_count == 0  # confirmed on the way out
        assert await _recorded(sqlite_url, slow["update_id"])


async def test_concurrent_updates_still_run_concurrently(sqlite_url: str) -> None:
    async with (
        FakeBotAPI() as api,
        bot_process(api.base_url, api.token, sqlite_url, BOT_CONCURRENCY="8") as bot,
    ):
        await bot.wait_for_line("Polling started successfully")
        sent = [api.inject_message(USER, "slow:3") for _ in range(6)]
        # All six handlers started while the first is still sleeping.
        await eventually(lambda: _all_running(sqlite_url, [u["update_id"] for u in sent]))
        assert replies(api, "slow:3") == 0
        await eventually(lambda: replies(api, "slow:3") == 6)
        assert await bot.signal_and_wait(signal.SIGTERM) == 0
    assert set((await handler_runs(sqlite_url)).values()) == {1}


async def _all_running(url: str, update_ids: list[int]) -> bool:
    runs = await handler_runs(url)
    return all(uid in runs for uid in update_ids)
