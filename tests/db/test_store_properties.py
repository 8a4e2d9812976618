"""Generated arguments: the store raises only documented errors and keeps its invariant.

Whatever the calls (good or bad users, amounts, reasons, keys, replays), every
balance equals the sum of its ledger, is never negative, and every refusal is a
``ValueError`` or a :class:`BalanceStoreError`, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_polling.db import BalanceStore, BalanceStoreError, open_balance_store

from .conftest import fresh_pg_schema

INT64_MAX = 2**63 - 1

users = (
    st.sampled_from([1, 2, -5, INT64_MAX]) | st.integers() | st.booleans() | st.text(max_size=3)
)
amounts = (
    st.integers(min_value=-3, max_value=50)
    | st.sampled_from([INT64_MAX, INT64_MAX - 1, 2**63, 2**64])
    | st.floats(allow_nan=True)
    | st.none()
)
bad_texts = st.sampled_from(["a\x00b", "\ud800", "x" * 1001, ""])
texts = st.text(max_size=12) | bad_texts | st.integers()
keys = st.none() | st.sampled_from(["k1", "k2", "k3"]) | texts
Operation = tuple[str, Any, Any, Any, Any]
operations = st.lists(
    st.tuples(st.sampled_from(["add", "subtract", "set"]), users, amounts, texts, keys),
    max_size=12,
)
_SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


async def _apply(store: BalanceStore, ops: list[Operation]) -> set[int]:
    """Run *ops*; return the valid user ids touched."""
    touched: set[int] = set()
    for kind, user, amount, reason, key in ops:
        try:
            if kind == "set":
                await store.set_user_balance_async(user, amount, reason=reason)
            else:
                change = getattr(store, f"{kind}_user_balance_async")
                await change(user, amount, reason=reason, idempotency_key=key)
        except (ValueError, BalanceStoreError):
            pass  # documented refusals; any other exception fails the test
        if type(user) is int and -(2**63) <= user <= INT64_MAX:
            touched.add(user)
    return touched


async def _check_invariant(store: BalanceStore, touched: set[int]) -> None:
    for user in touched:
        balance = await store.get_user_balance_async(user)
        ledger = await store.ledger(user, limit=1000)
        assert type(balance) is int
        assert balance >= 0
        assert sum(entry.delta for entry in ledger) == balance
        if ledger:
            assert ledger[0].balance_after == balance


async def _run(url: str, ops: list[Operation]) -> None:
    async with open_balance_store(url) as store:
        await _check_invariant(store, await _apply(store, ops))


@settings(max_examples=150, deadline=None, suppress_health_check=_SUPPRESS)
@given(ops=operations)
def test_sqlite_store_keeps_its_invariant(tmp_path: Path, ops: list[Operation]) -> None:
    asyncio.run(_run(f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.sqlite3", ops))


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=_SUPPRESS)
@given(ops=operations)
def test_postgres_store_keeps_its_invariant(pg_dsn: str, ops: list[Operation]) -> None:
    async def main() -> None:
        async with fresh_pg_schema(pg_dsn) as url:
            await _run(url, ops)

    asyncio.run(main())
