"""Unreachable, missing and lost databases give clear errors without secrets, then recover."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from safe_polling.db import (
    BalanceStore,
    BalanceStoreError,
    DatabaseUnavailable,
    InsufficientFunds,
    open_balance_store,
)

SECRET = "Sup3rS3cretPw"


def pg_url(pg_dsn: str, *, user: str = "postgres", port: int | None = None, db: str) -> str:
    parts = urlsplit(pg_dsn)
    return f"postgresql://{user}:{SECRET}@127.0.0.1:{port or parts.port or 5432}/{db}"


@pytest.fixture
def free_port() -> Iterator[int]:
    """A loopback port with nothing listening on it, for the whole test.

    The socket stays bound but never listens: connections are refused, and no other
    process can take the port in between (as it could once a probe socket is closed).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


async def expect_unavailable(url: str, *where: str, timeout: float = 5.0) -> str:
    with pytest.raises(DatabaseUnavailable) as info:
        await asyncio.wait_for(open_balance_store(url, connect_timeout=timeout), 30)
    message = str(info.value)
    assert SECRET not in message
    assert SECRET not in repr(info.value.__cause__ or "")
    for part in where:
        assert part in message
    return message


async def test_unreachable_server(pg_dsn: str, free_port: int) -> None:
    url = pg_url(pg_dsn, port=free_port, db="test")
    await expect_unavailable(url, f"127.0.0.1:{free_port}/test")


async def test_silent_server_times_out(pg_dsn: str, silent_port: int) -> None:
    url = pg_url(pg_dsn, port=silent_port, db="test")
    await expect_unavailable(url, f"127.0.0.1:{silent_port}/test", timeout=0.5)


async def test_missing_database(pg_dsn: str) -> None:
    message = await expect_unavailable(pg_url(pg_dsn, db="no_such_db_sp"), "no_such_db_sp")
    assert "does not exist" in message


async def test_unknown_role(pg_dsn: str) -> None:
    await expect_unavailable(pg_url(pg_dsn, user="no_such_role_sp", db="test"), "/test")


async def test_sqlite_in_missing_directory(tmp_path: Path) -> None:
    await expect_unavailable(f"sqlite:///{tmp_path}/missing/dir/x.sqlite3", "missing/dir")


async def test_unsupported_scheme_hides_password() -> None:
    with pytest.raises(ValueError, match="unsupported") as info:
        await open_balance_store(f"mysql://u:{SECRET}@127.0.0.1/db")
    assert SECRET not in str(info.value)


async def test_sqlite_lock_held_by_another_process_then_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/locked.sqlite3"
    async with open_balance_store(url, connect_timeout=0.2) as store:
        await store.add_user_balance_async(1, 5)
        other = sqlite3.connect(tmp_path / "locked.sqlite3", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            with pytest.raises(DatabaseUnavailable, match="locked"):
                await store.add_user_balance_async(1, 1)
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert await store.add_user_balance_async(1, 1) == 6


async def test_closed_store_refuses_calls(store: BalanceStore) -> None:
    await store.aclose()
    await store.aclose()  # harmless twice
    with pytest.raises(DatabaseUnavailable, match="closed"):
        await store.get_user_balance_async(1)


async def retry_until_back(store: BalanceStore, user_id: int) -> int:
    for _ in range(50):
        try:
            return await store.get_user_balance_async(user_id)
        except DatabaseUnavailable:
            await asyncio.sleep(0.1)
    raise AssertionError("the store did not recover")


async def test_sessions_killed_mid_run_are_survived(pg_dsn: str, pg_store_url: str) -> None:
    store_url = pg_store_url
    app_name = parse_qs(urlsplit(store_url).query)["application_name"][0]
    killer = await asyncpg.connect(pg_dsn, timeout=10)

    async def kill_sessions() -> int:
        rows = await killer.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            app_name,
        )
        return len(rows)

    try:
        async with open_balance_store(store_url) as store:
            await store.add_user_balance_async(1, 1000)

            # 1. A call whose connection dies under it fails clearly.
            async def killed_under_us() -> None:
                async with store.transaction() as tx:
                    await tx.fetch_one("SELECT 1")
                    assert await kill_sessions() >= 1
                    await tx.fetch_one("SELECT 1")

            with pytest.raises(DatabaseUnavailable, match="unavailable"):
                await killed_under_us()
            assert await retry_until_back(store, 1) == 1000

            # 2. Under load: every call either succeeds or fails with DatabaseUnavailable,
            # and the ledger still matches the balance afterwards.
            finished: list[object] = []

            async def spend() -> list[object]:
                out: list[object] = []
                for _ in range(40):
                    try:
                        out.append(await store.subtract_user_balance_async(1, 1))
                    except BalanceStoreError as exc:
                        out.append(exc)
                    finished.append(out[-1])
                return out

            workers = [asyncio.create_task(spend()) for _ in range(8)]
            # Kill while the debits are running: some done, most still to come.
            async with asyncio.timeout(30):
                while len(finished) < 8:
                    await asyncio.sleep(0.005)
            assert await kill_sessions() >= 1
            done_at_kill = len(finished)
            results = [
                r for batch in await asyncio.wait_for(asyncio.gather(*workers), 60) for r in batch
            ]
            assert done_at_kill < len(results) - 8, "the kill came after the load"
            assert all(isinstance(r, int | DatabaseUnavailable) for r in results), results
            assert not any(isinstance(r, InsufficientFunds) for r in results)
            balance = await retry_until_back(store, 1)
            successes = sum(isinstance(r, int) for r in results)
            # A commit can land just before its connection died and still be reported as
            # unavailable, so the balance may have moved more than the successes say.
            assert 1000 - balance >= successes
            entries = await store.ledger(1, limit=10_000)
            assert sum(e.delta for e in entries) == balance
            assert await store.add_user_balance_async(1, 1) == balance + 1
    finally:
        await killer.close()
