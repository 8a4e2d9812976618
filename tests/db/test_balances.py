"""Balance semantics and concurrency, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from safe_polling.db import (
    BalanceStore,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerEntry,
)

USER = 7_000_000_001


async def ledger_sum(store: BalanceStore, user_id: int) -> int:
    entries = await store.ledger(user_id, limit=100_000)
    return sum(e.delta for e in entries)


async def test_unknown_user_has_zero(store: BalanceStore) -> None:
    assert await store.get_user_balance_async(USER) == 0
    assert await store.ledger(USER) == []


async def test_add_subtract_set_and_ledger(store: BalanceStore) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    assert await store.add_user_balance_async(USER, 100, reason="top-up") == 100
    assert await store.subtract_user_balance_async(USER, 30, reason="gen") == 70
    assert await store.set_user_balance_async(USER, 500, reason="admin") == 500
    assert await store.set_user_balance_async(USER, 0, reason="reset") == 0
    assert await store.get_user_balance_async(USER) == 0
    entries = await store.ledger(USER)
    assert [(e.delta, e.balance_after, e.reason) for e in entries] == [
        (-500, 0, "reset"),
        (430, 500, "admin"),
        (-30, 70, "gen"),
        (100, 100, "top-up"),
    ]
    assert all(isinstance(e, LedgerEntry) and e.user_id == USER for e in entries)
    assert all(e.created_at.tzinfo is not None and e.created_at > before for e in entries)
    assert [e.delta for e in await store.ledger(USER, limit=1)] == [-500]


async def test_insufficient_funds_changes_nothing(store: BalanceStore) -> None:
    await store.add_user_balance_async(USER, 5)
    with pytest.raises(InsufficientFunds) as info:
        await store.subtract_user_balance_async(USER, 6, idempotency_key="k1")
    assert (info.value.user_id, info.value.balance, info.value.needed) == (USER, 5, 6)
    with pytest.raises(InsufficientFunds) as info:
        await store.subtract_user_balance_async(USER + 1, 1)
    assert info.value.balance == 0
    assert await store.get_user_balance_async(USER) == 5
    assert len(await store.ledger(USER)) == 1
    # The failed attempt recorded nothing, so a retry with the same key may succeed.
    await store.add_user_balance_async(USER, 1)
    assert await store.subtract_user_balance_async(USER, 6, idempotency_key="k1") == 0


async def test_concurrent_subtracts_never_overdraw(store: BalanceStore) -> None:
    await store.add_user_balance_async(USER, 300)
    results = await asyncio.gather(
        *(store.subtract_user_balance_async(USER, 1) for _ in range(1000)),
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(ok), len(refused)) == (300, 700)
    assert sorted(ok) == list(range(300))  # every balance-after seen exactly once
    assert await store.get_user_balance_async(USER) == 0
    assert await ledger_sum(store, USER) == 0


async def test_concurrent_adds_lose_nothing(store: BalanceStore) -> None:
    users = [USER, USER + 1]
    await asyncio.gather(
        *(store.add_user_balance_async(u, n) for n in range(1, 201) for u in users)
    )
    for u in users:
        assert await store.get_user_balance_async(u) == 200 * 201 // 2
        assert await ledger_sum(store, u) == 200 * 201 // 2


async def test_concurrent_sets_and_adds_keep_the_ledger_equal_to_the_balance(
    store: BalanceStore,
) -> None:
    # A set records the difference to the balance it replaces: read without a row lock,
    # a credit committed in between would be missing from that difference.
    await store.add_user_balance_async(USER, 1)
    await asyncio.gather(
        *(
            call
            for n in range(100)
            for call in (
                store.add_user_balance_async(USER, 1),
                store.set_user_balance_async(USER, n),
            )
        )
    )
    assert await ledger_sum(store, USER) == await store.get_user_balance_async(USER)


async def test_idempotent_replays_under_concurrency_credit_once(store: BalanceStore) -> None:
    await store.add_user_balance_async(USER, 10)
    adds = [
        store.add_user_balance_async(USER, 50, reason="pay", idempotency_key="charge-1")
        for _ in range(50)
    ]
    subs = [
        store.subtract_user_balance_async(USER, 7, reason="gen", idempotency_key="gen-1")
        for _ in range(50)
    ]
    results = await asyncio.gather(*adds, *subs)
    assert len(set(results[:50])) == 1  # every replay returns the first result
    assert len(set(results[50:])) == 1
    assert await store.get_user_balance_async(USER) == 10 + 50 - 7
    keyed = [e for e in await store.ledger(USER) if e.idempotency_key]
    assert sorted((e.idempotency_key, e.delta) for e in keyed) == [("charge-1", 50), ("gen-1", -7)]
    assert await ledger_sum(store, USER) == 53
    # A replay long after returns the balance recorded then, not the current one.
    await store.add_user_balance_async(USER, 1000)
    assert await store.add_user_balance_async(USER, 50, idempotency_key="charge-1") == results[0]


async def test_replay_with_other_user_or_amount_is_a_conflict(store: BalanceStore) -> None:
    await store.add_user_balance_async(USER, 50, idempotency_key="charge-2")
    for call in (
        store.add_user_balance_async(USER, 51, idempotency_key="charge-2"),
        store.add_user_balance_async(USER + 1, 50, idempotency_key="charge-2"),
        store.subtract_user_balance_async(USER, 50, idempotency_key="charge-2"),
    ):
        with pytest.raises(IdempotencyConflict, match="charge-2"):
            await call
    assert await store.get_user_balance_async(USER) == 50
    assert await store.get_user_balance_async(USER + 1) == 0
    assert issubclass(IdempotencyConflict, ValueError)


@pytest.mark.parametrize(
    "amount", [0, -1, 1.0, 2.5, Decimal("1"), "1", True, False, None, 2**63, float("nan")]
)
async def test_bad_amounts_rejected(store: BalanceStore, amount: object) -> None:
    for op in (store.add_user_balance_async, store.subtract_user_balance_async):
        with pytest.raises(ValueError, match="amount") as info:
            await op(USER, amount)  # type: ignore[arg-type]
        assert repr(amount) in str(info.value)
    assert await store.ledger(USER) == []


async def test_set_accepts_zero_but_not_negative(store: BalanceStore) -> None:
    assert await store.set_user_balance_async(USER, 0) == 0
    with pytest.raises(ValueError, match="-1"):
        await store.set_user_balance_async(USER, -1)
    with pytest.raises(ValueError, match="float"):
        await store.set_user_balance_async(USER, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("user_id", [True, 1.0, "1", None, 2**63, -(2**63) - 1])
async def test_bad_user_ids_rejected(store: BalanceStore, user_id: object) -> None:
    with pytest.raises(ValueError, match="user_id"):
        await store.add_user_balance_async(user_id, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="user_id"):
        await store.get_user_balance_async(user_id)  # type: ignore[arg-type]


async def test_extreme_user_ids_and_bad_keys(store: BalanceStore) -> None:
    for uid in (2**63 - 1, -(2**63), -100123):  # Telegram chats can be negative
        assert await store.add_user_balance_async(uid, 3) == 3
    for key in ("", 5, "x" * 201):
        with pytest.raises(ValueError, match="idempotency_key"):
            await store.add_user_balance_async(USER, 1, idempotency_key=key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reason"):
        await store.add_user_balance_async(USER, 1, reason=None)  # type: ignore[arg-type]
