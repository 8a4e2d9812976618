"""PostgreSQL specifics: loss detection, the fence, pooler detection, errors without secrets."""

from __future__ import annotations

import anyio
import asyncpg
import pytest

from safe_polling.lease import LeaseError, LeaseLost, PostgresLease, advisory_key
from safe_polling.lease._postgres import _key_parts, _looks_pooled

from .conftest import SECRET, TOKEN

pytestmark = pytest.mark.postgres
WAIT = 15


async def _holder_backend_pid(dsn: str, key: int) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        classid, objid = _key_parts(key)
        pid = await conn.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid"
            " AND objid = $2::bigint::oid AND objsubid = 1 AND granted",
            classid,
            objid,
        )
    finally:
        await conn.close()
    assert isinstance(pid, int)
    return pid


def test_key_is_stable_and_ignores_the_token_secret() -> None:
    # Pinned: a changed derivation would let old and new versions poll side by side.
    assert advisory_key(987654321, "default") == advisory_key(TOKEN) == 4738522984995509087
    assert advisory_key(987654321, "other") != advisory_key(987654321)


def test_pooler_detector() -> None:
    assert not _looks_pooled([4242, 4242, 4242])
    assert _looks_pooled([4242, 4243, 4242])


async def test_lock_shows_in_pg_locks_under_the_documented_key(
    pg_dsn: str, unique_name: str
) -> None:
    async with PostgresLease(pg_dsn, bot_id=TOKEN, name=unique_name) as lease:
        await lease.acquire()
        conn = await asyncpg.connect(pg_dsn)
        try:
            key = advisory_key(TOKEN, unique_name)
            # The documented one-argument bigint form: a fresh session cannot take it.
            assert not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key)
        finally:
            await conn.close()
        info = await lease.holder()
        assert info is not None
        assert "backend_pid=" in info.backend_id


async def test_terminated_session_fires_lost_and_fails_the_fence(
    pg_dsn: str, unique_name: str
) -> None:
    async with PostgresLease(pg_dsn, bot_id=TOKEN, name=unique_name, check_interval=60) as lease:
        await lease.acquire()
        lost = lease.lost
        pid = await _holder_backend_pid(pg_dsn, advisory_key(TOKEN, unique_name))
        conn = await asyncpg.connect(pg_dsn)
        try:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()
        # check_interval=60: only the connection's termination can set the event in time.
        with anyio.fail_after(WAIT):
            await lease.wait_lost()
        assert lost.is_set()
        assert not lease.held
        with pytest.raises(LeaseLost):
            await lease.ensure_held()
        # The lease recovers: a new session takes the now free lock.
        with anyio.fail_after(WAIT):
            await lease.acquire()
        await lease.ensure_held()


async def test_fence_fails_when_the_session_lost_its_lock(pg_dsn: str, unique_name: str) -> None:
    # As after a pooler's session reset (DISCARD ALL): the connection lives, the lock is gone.
    async with PostgresLease(pg_dsn, bot_id=TOKEN, name=unique_name, check_interval=60) as lease:
        await lease.acquire()
        assert lease._conn is not None
        await lease._conn.execute("SELECT pg_advisory_unlock_all()")
        with pytest.raises(LeaseLost, match="not held by this session"):
            await lease.ensure_held()
        assert lease.lost.is_set()


async def test_background_check_notices_a_lost_lock(pg_dsn: str, unique_name: str) -> None:
    async with PostgresLease(pg_dsn, bot_id=TOKEN, name=unique_name, check_interval=0.2) as lease:
        await lease.acquire()
        assert lease._conn is not None
        await lease._conn.execute("SELECT pg_advisory_unlock_all()")
        with anyio.fail_after(WAIT):
            await lease.wait_lost()


async def test_session_settings_for_vanished_hosts(pg_dsn: str, unique_name: str) -> None:
    lease = PostgresLease(
        pg_dsn,
        bot_id=TOKEN,
        name=unique_name,
        keepalive_idle=4,
        keepalive_interval=3,
        keepalive_count=2,
        tcp_user_timeout_ms=7000,
    )
    async with lease:
        await lease.acquire()
        assert lease._conn is not None
        row = await lease._conn.fetchrow(
            "SELECT current_setting('tcp_keepalives_idle') AS idle,"
            " current_setting('tcp_keepalives_interval') AS intvl,"
            " current_setting('tcp_keepalives_count') AS cnt,"
            " current_setting('tcp_user_timeout') AS uto,"
            " current_setting('idle_session_timeout') AS idle_timeout"
        )
    assert row is not None
    # Over loopback TCP the server reports the applied socket values.
    assert (row["idle"], row["intvl"], row["cnt"]) == ("4", "3", "2")
    assert row["uto"] == "7000"
    assert row["idle_timeout"] == "0"


async def test_unreachable_server_gives_a_clear_error_without_password(unique_name: str) -> None:
    lease = PostgresLease(
        "postgresql://bot:hunter2pass@127.0.0.1:1/app",
        bot_id=TOKEN,
        name=unique_name,
        connect_timeout=5,
    )
    with pytest.raises(LeaseError) as caught:
        await lease.try_acquire()
    message = str(caught.value)
    assert "127.0.0.1:1/app" in message
    assert "cannot connect" in message
    assert "hunter2pass" not in message
    assert SECRET not in message
    assert "hunter2pass" not in lease.describe()
    await lease.aclose()


def test_rejects_non_postgres_urls() -> None:
    with pytest.raises(LeaseError, match="postgres://"):
        PostgresLease("mysql://h/db", bot_id=1)
    assert PostgresLease("postgres://u:pw@h:5/db", bot_id=1).describe() == (
        "postgres lease on h:5/db (key 1:default)"
    )
