"""PostgreSQL's one-statement balance change, the pool reset it skips, the connections it keeps."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from safe_polling.db import InsufficientFunds, open_balance_store


async def test_session_settings_made_through_transaction_never_reach_the_next_caller(
    pg_store_url: str,
) -> None:
    async with open_balance_store(pg_store_url, max_connections=1) as store:
        async with store.transaction() as tx:
            await tx.execute("SET statement_timeout = '1234ms'")
        # The balance change skips the pool's reset; the transaction above must not.
        await store.add_user_balance_async(7, 5)
        assert await store.subtract_user_balance_async(7, 2) == 3
        row = await store.fetch_one("SHOW statement_timeout")
    assert row is not None
    assert row["statement_timeout"] != "1234ms"


async def test_concurrent_subtractions_never_overdraw_and_the_ledger_is_exact(
    pg_store_url: str,
) -> None:
    async with open_balance_store(pg_store_url) as store:
        await store.add_user_balance_async(9, 10, idempotency_key="topup")
        results = await asyncio.gather(
            *(store.subtract_user_balance_async(9, 3) for _ in range(8)),
            return_exceptions=True,
        )
        ledger = await store.ledger(9)
        assert await store.get_user_balance_async(9) == 1
        assert await store.add_user_balance_async(9, 10, idempotency_key="topup") == 10
    assert sorted(r for r in results if isinstance(r, int)) == [1, 4, 7]
    assert all(isinstance(r, InsufficientFunds) for r in results if not isinstance(r, int))
    assert [e.delta for e in ledger] == [-3, -3, -3, 10]
    assert [e.balance_after for e in ledger] == [1, 4, 7, 10]


@pytest.mark.parametrize("sign", [1, -1])
async def test_a_replayed_key_changes_nothing_and_answers_the_first_result(
    pg_store_url: str, sign: int
) -> None:
    async with open_balance_store(pg_store_url) as store:
        await store.set_user_balance_async(3, 50)
        change = store.add_user_balance_async if sign > 0 else store.subtract_user_balance_async
        first = await change(3, 5, idempotency_key="k")
        again = await asyncio.gather(*(change(3, 5, idempotency_key="k") for _ in range(5)))
        assert again == [first] * 5
        assert await store.get_user_balance_async(3) == 50 + sign * 5
        assert len(await store.ledger(3)) == 2  # the set, then one change


async def test_kept_connections_never_starve_callers_waiting_for_the_pool(
    pg_store_url: str,
) -> None:
    # One connection: a change that finishes while a transaction waits in the pool's
    # acquire must hand its connection over instead of keeping it for the next change.
    async with open_balance_store(pg_store_url, max_connections=1) as store:
        await store.add_user_balance_async(4, 100)
        async with asyncio.timeout(20):
            mixed = await asyncio.gather(
                *(
                    store.subtract_user_balance_async(4, 1)
                    if i % 2
                    else store.fetch_one("SELECT count(*) AS n FROM safe_polling_ledger")
                    for i in range(40)
                )
            )
            # Every connection kept after a change: a transaction still gets one.
            async with store.transaction() as tx:
                assert await tx.fetch_one("SELECT 1 AS one") == {"one": 1}
        assert await store.get_user_balance_async(4) == 80
    assert sorted(r for r in mixed if isinstance(r, int)) == list(range(80, 100))


async def test_closing_returns_the_kept_connections_at_once(
    pg_dsn: str, pg_store_url: str
) -> None:
    app_name = parse_qs(urlsplit(pg_store_url).query)["application_name"][0]
    # A long connect timeout: close() waiting for a connection nobody returns would hang.
    store = await open_balance_store(pg_store_url, connect_timeout=60)
    await asyncio.gather(*(store.add_user_balance_async(u, 1) for u in range(1, 6)))
    async with asyncio.timeout(20):
        await store.aclose()
    admin = await asyncpg.connect(pg_dsn, timeout=10)
    try:
        sessions = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app_name
        )
    finally:
        await admin.close()
    assert sessions == 0


async def test_a_kept_connection_the_server_closed_is_replaced_not_used(
    pg_dsn: str, pg_store_url: str
) -> None:
    app_name = parse_qs(urlsplit(pg_store_url).query)["application_name"][0]
    admin = await asyncpg.connect(pg_dsn, timeout=10)
    try:
        async with open_balance_store(pg_store_url) as store:
            await asyncio.gather(*(store.add_user_balance_async(u, 10) for u in range(1, 4)))
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1",
                app_name,
            )
            assert killed >= 1
            async with asyncio.timeout(10):
                while await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app_name
                ):
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # let the loop read the servers' goodbyes
            # No DatabaseUnavailable: the closed connections are dropped, a new one opened.
            assert await store.subtract_user_balance_async(1, 4) == 6
            assert await store.add_user_balance_async(2, 1) == 11
    finally:
        await admin.close()


async def test_kept_connections_go_back_to_the_pool_when_the_store_is_quiet(
    pg_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kept forever, they would hold server connections a quiet bot does not need; back
    # in the pool, its idle timeout closes them.
    from safe_polling.db import _postgres

    monkeypatch.setattr(_postgres, "_KEEP_IDLE", 0.2)
    async with open_balance_store(pg_store_url) as store:
        pool = store._pool  # type: ignore[attr-defined]
        await asyncio.gather(*(store.add_user_balance_async(u, 5) for u in range(1, 4)))
        opened = pool.get_size()
        assert opened >= 1
        assert pool.get_idle_size() < opened  # kept for the next change, out of the pool
        async with asyncio.timeout(10):
            while pool.get_idle_size() < opened:
                await asyncio.sleep(0.05)
        assert await store.subtract_user_balance_async(2, 1) == 4  # taken from the pool
        assert await store.get_user_balance_async(3) == 5
