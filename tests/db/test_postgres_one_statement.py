"""PostgreSQL's one-statement balance change, and the pool reset it skips."""

from __future__ import annotations

import asyncio

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
