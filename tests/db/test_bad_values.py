"""SQLite and PostgreSQL refuse the same bad values with the same documented error.

Before, a NUL byte or a lone surrogate in a reason or key reached the driver: PostgreSQL
raised its own encoding error mid-transaction, SQLite stored the NUL; a credit past
the int64 maximum made SQLite's balance an inexact float while PostgreSQL raised
"bigint out of range".
"""

from __future__ import annotations

import pytest

from safe_polling.db import (
    MAX_KEY_LENGTH,
    MAX_REASON_LENGTH,
    BalanceOverflow,
    BalanceStore,
)

INT64_MAX = 2**63 - 1

BAD_TEXT = [
    ("nul\x00byte", "must not contain NUL"),
    ("lone \ud800 surrogate", "no lone surrogates"),
    ("\udfff", "no lone surrogates"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TEXT)
async def test_bad_reason_is_refused_the_same_way(
    store: BalanceStore, text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await store.add_user_balance_async(1, 5, reason=text)
    with pytest.raises(ValueError, match=message):
        await store.subtract_user_balance_async(1, 5, reason=text)
    with pytest.raises(ValueError, match=message):
        await store.set_user_balance_async(1, 5, reason=text)
    assert await store.get_user_balance_async(1) == 0
    assert await store.ledger(1) == []


@pytest.mark.parametrize(("text", "message"), BAD_TEXT)
async def test_bad_idempotency_key_is_refused_the_same_way(
    store: BalanceStore, text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await store.add_user_balance_async(1, 5, idempotency_key=text)
    assert await store.ledger(1) == []


async def test_documented_maximum_lengths(store: BalanceStore) -> None:
    reason, key = "r" * MAX_REASON_LENGTH, "k" * MAX_KEY_LENGTH
    assert await store.add_user_balance_async(1, 5, reason=reason, idempotency_key=key) == 5
    (entry,) = await store.ledger(1)
    assert (entry.reason, entry.idempotency_key) == (reason, key)
    with pytest.raises(ValueError, match=f"at most {MAX_REASON_LENGTH} characters"):
        await store.add_user_balance_async(1, 5, reason=reason + "r")
    with pytest.raises(ValueError, match=f"at most {MAX_KEY_LENGTH} characters") as err:
        await store.add_user_balance_async(1, 5, idempotency_key=key + "k")
    assert len(str(err.value)) < 200  # the value is not echoed in full
    assert await store.get_user_balance_async(1) == 5


async def test_credit_past_int64_maximum_is_refused_and_changes_nothing(
    store: BalanceStore,
) -> None:
    assert await store.add_user_balance_async(1, INT64_MAX - 1, idempotency_key="a") == (
        INT64_MAX - 1
    )
    assert await store.add_user_balance_async(1, 1) == INT64_MAX
    with pytest.raises(BalanceOverflow, match="would exceed"):
        await store.add_user_balance_async(1, 1, idempotency_key="b")
    assert await store.add_user_balance_async(2, INT64_MAX) == INT64_MAX  # a new user: fine
    with pytest.raises(BalanceOverflow):
        await store.add_user_balance_async(2, INT64_MAX)
    balance = await store.get_user_balance_async(1)
    assert balance == INT64_MAX
    assert type(balance) is int
    assert await store.get_user_balance_async(2) == INT64_MAX
    assert sum(e.delta for e in await store.ledger(1)) == INT64_MAX
    # The refused key was not used up: it works once there is room.
    assert await store.subtract_user_balance_async(1, 10) == INT64_MAX - 10
    assert await store.add_user_balance_async(1, 1, idempotency_key="b") == INT64_MAX - 9
