"""Migrations, concurrent opens (in-process and across processes) and the SQL primitives."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone

import pytest

import safe_polling.db as db
from safe_polling.db import (
    BalanceStore,
    BalanceStoreError,
    IntegrityError,
    QueryError,
    open_balance_store,
)

JOBS = [
    "CREATE TABLE jobs (id TEXT PRIMARY KEY, user_id BIGINT NOT NULL, state TEXT NOT NULL)",
    "CREATE INDEX jobs_user ON jobs (user_id)",
]


async def versions(store: BalanceStore) -> dict[str, int]:
    rows = await store.fetch_all("SELECT component, version FROM safe_polling_schema")
    return {r["component"]: r["version"] for r in rows}


async def test_reopen_is_idempotent_and_keeps_data(store_url: str) -> None:
    async with open_balance_store(store_url) as first:
        await first.add_user_balance_async(1, 42)
        assert await versions(first) == {"safe_polling.balances": 4}
    async with open_balance_store(store_url) as again:
        assert await again.get_user_balance_async(1) == 42
        assert await versions(again) == {"safe_polling.balances": 4}


async def test_concurrent_opens_all_succeed(store_url: str) -> None:
    stores = await asyncio.wait_for(
        asyncio.gather(*(open_balance_store(store_url) for _ in range(5))), 60
    )
    try:
        await asyncio.gather(*(s.add_user_balance_async(9, 1) for s in stores))
        assert await stores[0].get_user_balance_async(9) == 5
        assert await versions(stores[-1]) == {"safe_polling.balances": 4}
    finally:
        await asyncio.gather(*(s.aclose() for s in stores))


async def test_processes_share_one_database(store_url: str) -> None:
    # Two processes open (and migrate) the same fresh database at once, then write.
    script = textwrap.dedent(
        """
        import asyncio, sys
        from safe_polling.db import open_balance_store

        async def main() -> None:
            async with open_balance_store(sys.argv[1]) as store:
                for i in range(40):
                    await store.add_user_balance_async(5, 1, idempotency_key=f"{sys.argv[2]}-{i}")
                    await store.add_user_balance_async(5, 1, idempotency_key=f"shared-{i}")

        asyncio.run(main())
        """
    )
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, store_url, name)
        for name in ("a", "b")
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 90)
    assert codes == [0, 0]
    async with open_balance_store(store_url) as store:
        assert await store.get_user_balance_async(5) == 40 + 40 + 40
        assert len(await store.ledger(5, limit=1000)) == 120


async def test_apply_migrations_runs_each_step_once(store: BalanceStore) -> None:
    assert await store.apply_migrations("kie_bot", JOBS[:1]) == 1
    assert await store.apply_migrations("kie_bot", JOBS) == 2  # only the new step runs
    assert await store.apply_migrations("kie_bot", JOBS) == 2  # nothing left to run
    assert (await versions(store))["kie_bot"] == 2
    with pytest.raises(BalanceStoreError, match="newer"):
        await store.apply_migrations("kie_bot", JOBS[:1])


async def test_failed_migration_step_is_rolled_back(store: BalanceStore) -> None:
    steps = [*JOBS, "CREATE TABLE broken (this is not sql)"]
    with pytest.raises(QueryError):
        await store.apply_migrations("kie_bot", steps)
    assert "kie_bot" not in await versions(store)
    assert await store.apply_migrations("kie_bot", JOBS) == 2


async def test_sql_primitives_with_dollar_placeholders(store: BalanceStore) -> None:
    assert store.kind in ("sqlite", "postgres")
    await store.apply_migrations("kie_bot", JOBS)
    insert = "INSERT INTO jobs (id, user_id, state) VALUES ($1, $2, $3)"
    assert await store.execute(insert, "j1", 10, "created") == 1
    assert await store.execute(insert, "j2", 10, "created") == 1
    # A conditional transition reports whether it won.
    move = "UPDATE jobs SET state = $2 WHERE id = $1 AND state = 'created'"
    assert await store.execute(move, "j1", "charged") == 1
    assert await store.execute(move, "j1", "charged") == 0
    row = await store.fetch_one("SELECT id, state FROM jobs WHERE id = $1", "j1")
    assert row == {"id": "j1", "state": "charged"}
    assert await store.fetch_one("SELECT id FROM jobs WHERE id = $1", "nope") is None
    rows = await store.fetch_all("SELECT id FROM jobs WHERE user_id = $1 ORDER BY id", 10)
    assert [r["id"] for r in rows] == ["j1", "j2"]
    # '$1' inside a string literal is not a placeholder.
    assert await store.fetch_one("SELECT '$1' AS s, CAST($1 AS BIGINT) AS n", 5) == {
        "s": "$1",
        "n": 5,
    }
    with pytest.raises(IntegrityError):
        await store.execute(insert, "j1", 10, "created")
    with pytest.raises(QueryError):
        await store.fetch_all("SELECT * FROM no_such_table")


async def test_transaction_commits_or_rolls_back_with_balances(store: BalanceStore) -> None:
    await store.apply_migrations("kie_bot", JOBS)
    await store.add_user_balance_async(3, 10)

    async def insert_then_fail() -> None:
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO jobs VALUES ($1, $2, $3)", "j", 3, "created")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await insert_then_fail()
    assert await store.fetch_all("SELECT id FROM jobs") == []
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO jobs VALUES ($1, $2, $3)", "j", 3, "created")
        assert await tx.fetch_all("SELECT id FROM jobs") == [{"id": "j"}]
    assert await store.fetch_all("SELECT id FROM jobs") == [{"id": "j"}]
    assert await store.get_user_balance_async(3) == 10


async def test_module_level_functions_use_the_default_store(store: BalanceStore) -> None:
    db.configure_default_store(None)
    with pytest.raises(RuntimeError, match="configure_default_store"):
        await db.get_user_balance_async(1)
    db.set_default_store(store)
    try:
        assert db.get_default_store() is store
        assert await db.add_user_balance_async(1, 10, idempotency_key="m1") == 10
        assert await db.subtract_user_balance_async(1, 4) == 6
        assert await db.set_user_balance_async(1, 8) == 8
        assert await db.get_user_balance_async(1) == 8
        assert [e.delta for e in await db.ledger(1)] == [2, -4, 10]
        with pytest.raises(db.InsufficientFunds):
            await db.subtract_user_balance_async(1, 9)
    finally:
        db.configure_default_store(None)


async def test_nested_use_inside_a_transaction_does_not_hang(store: BalanceStore) -> None:
    async def nested() -> int:
        # asyncio.timeout, not wait_for: the inner call must stay in this task.
        async with asyncio.timeout(10), store.transaction():
            return await store.get_user_balance_async(1)

    if store.kind == "sqlite":  # one connection: refuse rather than wait for ourselves
        with pytest.raises(RuntimeError, match="nested transaction"):
            await nested()
    else:  # a pool: the inner call simply uses another connection
        assert await nested() == 0
    assert await store.add_user_balance_async(1, 1) == 1  # the store is still usable


def test_sqlite_time_text_and_datetimes_read_as_the_same_utc_instant() -> None:
    from safe_polling.db._store import utc_from_text

    naive = datetime(2026, 11, 30, 12, 0, 0, 500_000)
    assert utc_from_text("2026-11-30 12:00:00.500") == naive.replace(tzinfo=UTC)
    assert utc_from_text(naive) == naive.replace(tzinfo=UTC)
    one_hour_east = datetime(2026, 11, 30, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc_from_text(one_hour_east) == one_hour_east  # the same instant, not relabelled
    assert utc_from_text(one_hour_east).utcoffset() == timedelta(hours=1)
