"""Fixtures for the balance store: the same tests run on SQLite and real PostgreSQL.

Each PostgreSQL test gets a fresh schema (selected with ``?search_path=`` in the URL) and
its own ``application_name``, so it neither sees nor disturbs other tests in the ``test``
database, and chaos tests terminate only its own sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from safe_polling.db import BalanceStore, open_balance_store


def with_query(url: str, **params: str) -> str:
    """Append query parameters to a URL."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


@asynccontextmanager
async def fresh_pg_schema(dsn: str) -> AsyncIterator[str]:
    """Create a schema, yield a URL selecting it (and naming the sessions), drop it."""
    name = f"sp_db_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn, timeout=10)
    try:
        await admin.execute(f"CREATE SCHEMA {name}")
        try:
            yield with_query(dsn, search_path=name, application_name=name)
        finally:
            await admin.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database URL with empty state: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/balances.sqlite3"
        return
    async with fresh_pg_schema(request.getfixturevalue("pg_dsn")) as url:
        yield url


@pytest.fixture
async def pg_store_url(pg_dsn: str) -> AsyncIterator[str]:
    """A PostgreSQL URL on a fresh schema, for PostgreSQL-only tests."""
    async with fresh_pg_schema(pg_dsn) as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[BalanceStore]:
    """An open store on ``store_url``, closed after the test."""
    async with open_balance_store(store_url) as opened:
        yield opened
