"""The PostgreSQL balance store survives a real server restart mid-test.

While the server is down, every call fails fast with :class:`DatabaseUnavailable` (a clear
error, no driver exception, no hang); once it is back, the same store object works again.
Calls cut off mid-flight have an unknown outcome; replaying them with their idempotency keys
settles them exactly once, so the ledger always adds up to the balance.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from safe_polling.db import BalanceStore, DatabaseUnavailable, open_balance_store

from . import _pgctl

USER = 777_000_001
SEED = 1_000_000


@contextlib.asynccontextmanager
async def fresh_schema(dsn: str) -> AsyncIterator[str]:
    """A new schema, as a URL selecting it; dropped afterwards on a new connection."""
    name = f"sp_mp_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn, timeout=10)
    try:
        await admin.execute(f"CREATE SCHEMA {name}")
    finally:
        await admin.close()
    try:
        yield f"{dsn}?search_path={name}&application_name={name}"
    finally:
        admin = await asyncpg.connect(dsn, timeout=10)  # the first one did not survive
        try:
            await admin.execute(f"DROP SCHEMA {name} CASCADE")
        finally:
            await admin.close()


async def _ledger_matches(store: BalanceStore) -> int:
    balance = await store.get_user_balance_async(USER)
    entries = await store.ledger(USER, limit=100_000)
    assert sum(e.delta for e in entries) == balance
    assert entries[0].balance_after == balance
    return balance


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.destructive
async def test_calls_fail_clearly_while_down_and_work_again_after(pg_dsn: str) -> None:
    async with fresh_schema(pg_dsn) as url, open_balance_store(url, connect_timeout=2) as store:
        await store.add_user_balance_async(USER, 100, idempotency_key="k1")
        await store.subtract_user_balance_async(USER, 30, idempotency_key="k2")
        with _pgctl.kept_up():
            _pgctl.stop()
            with pytest.raises(DatabaseUnavailable, match="unavailable"):
                await asyncio.wait_for(store.get_user_balance_async(USER), 20)
            with pytest.raises(DatabaseUnavailable):
                await asyncio.wait_for(
                    store.add_user_balance_async(USER, 5, idempotency_key="k3"), 20
                )
            _pgctl.start()
        # The same store object, no reopening: a call on a connection the restart cut may
        # still fail once, after which the pool has reconnected.
        for attempt in range(3):
            try:
                assert await store.add_user_balance_async(USER, 5, idempotency_key="k3") == 75
                break
            except DatabaseUnavailable:
                assert attempt < 2
                await asyncio.sleep(0.2)
        # A replay of a key is a no-op, a new key changes the balance.
        assert await store.add_user_balance_async(USER, 5, idempotency_key="k3") == 75
        assert await store.subtract_user_balance_async(USER, 25, idempotency_key="k4") == 50
        assert await _ledger_matches(store) == 50
        assert len(await store.ledger(USER, limit=1000)) == 4


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.destructive
async def test_restart_under_load_then_replay_settles_every_change_exactly_once(
    pg_dsn: str,
) -> None:
    async with fresh_schema(pg_dsn) as url, open_balance_store(url, connect_timeout=2) as store:
        await store.add_user_balance_async(USER, SEED, idempotency_key="seed")
        outcomes: dict[str, str] = {}
        stop = asyncio.Event()

        async def worker() -> None:
            n = 0
            while not stop.is_set():
                key = f"op{n}"
                try:
                    await store.subtract_user_balance_async(USER, 1, idempotency_key=key)
                    outcomes[key] = "ok"
                    await asyncio.sleep(0.005)  # a steady stream, not a flood of ledger rows
                except DatabaseUnavailable:
                    outcomes[key] = "unknown"  # may or may not have committed
                    await asyncio.sleep(0.05)
                n += 1

        task = asyncio.create_task(worker())
        try:
            await asyncio.sleep(0.3)
            with _pgctl.kept_up():
                await asyncio.to_thread(_pgctl.restart)
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        assert "unknown" in outcomes.values()  # the restart really cut calls off
        assert "ok" in list(outcomes.values())[-3:]  # and calls worked again afterwards
        # Settle the unknown ones: a replay applies each change at most once in total.
        for key, outcome in outcomes.items():
            if outcome == "unknown":
                await store.subtract_user_balance_async(USER, 1, idempotency_key=key)
        assert await _ledger_matches(store) == SEED - len(outcomes)
        assert len(await store.ledger(USER, limit=100_000)) == len(outcomes) + 1
