"""The balance store's promises that a fallback path could otherwise hide.

An idempotent replay must return the first result even when the balance can no longer
cover the debit (the IntegrityError fallback only saves a replay that still fits), the
store is its own async context manager and closes on exit, and its URL is shown masked.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from safe_polling.db import (
    BalanceOverflow,
    BalanceStore,
    DatabaseUnavailable,
    IdempotencyConflict,
    InsufficientFunds,
    open_balance_store,
)

USER = 31337


async def test_replaying_a_debit_after_the_balance_dropped_returns_the_first_result(
    store: BalanceStore,
) -> None:
    await store.add_user_balance_async(USER, 100)
    assert await store.subtract_user_balance_async(USER, 30, idempotency_key="gen:1") == 70
    assert await store.subtract_user_balance_async(USER, 70) == 0
    # The balance (0) no longer covers 30: the replay must not try to debit again.
    assert await store.subtract_user_balance_async(USER, 30, idempotency_key="gen:1") == 70
    assert await store.get_user_balance_async(USER) == 0
    assert [e.delta for e in await store.ledger(USER)] == [-70, -30, 100]


async def test_replaying_a_credit_returns_the_first_result_and_credits_once(
    store: BalanceStore,
) -> None:
    assert await store.add_user_balance_async(USER, 50, idempotency_key="pay:1") == 50
    assert await store.subtract_user_balance_async(USER, 20) == 30
    assert await store.add_user_balance_async(USER, 50, idempotency_key="pay:1") == 50
    assert await store.get_user_balance_async(USER) == 30


async def test_a_refused_debit_records_nothing_and_its_key_stays_usable(
    store: BalanceStore,
) -> None:
    await store.add_user_balance_async(USER, 10)
    with pytest.raises(InsufficientFunds) as info:
        await store.subtract_user_balance_async(USER, 25, idempotency_key="gen:2")
    assert (info.value.balance, info.value.needed) == (10, 25)
    await store.add_user_balance_async(USER, 15)
    assert await store.subtract_user_balance_async(USER, 25, idempotency_key="gen:2") == 0
    with pytest.raises(IdempotencyConflict):
        await store.subtract_user_balance_async(USER, 24, idempotency_key="gen:2")


async def test_set_records_the_difference_in_the_ledger(store: BalanceStore) -> None:
    await store.add_user_balance_async(USER, 40)
    assert await store.set_user_balance_async(USER, 15, reason="admin") == 15
    assert await store.get_user_balance_async(USER) == 15
    [latest, first] = await store.ledger(USER)
    assert (latest.delta, latest.balance_after, latest.reason) == (-25, 15, "admin")
    assert (first.delta, first.balance_after) == (40, 40)


async def test_the_ledger_limit_keeps_the_newest(store: BalanceStore) -> None:
    for n in range(1, 6):
        await store.add_user_balance_async(USER, n)
    assert [e.delta for e in await store.ledger(USER, limit=2)] == [5, 4]
    for n in range(6, 52):
        await store.add_user_balance_async(USER, n)
    assert [e.delta for e in await store.ledger(USER)] == list(range(51, 1, -1))  # 50


async def test_a_credit_past_the_bigint_maximum_is_refused_as_an_overflow(
    store: BalanceStore,
) -> None:
    top = 2**63 - 1
    assert await store.add_user_balance_async(USER, top - 5) == top - 5
    with pytest.raises(BalanceOverflow):
        await store.add_user_balance_async(USER, 10)
    assert await store.get_user_balance_async(USER) == top - 5


async def test_setting_the_balance_of_a_user_never_seen(store: BalanceStore) -> None:
    assert await store.set_user_balance_async(USER + 1, 7) == 7
    assert await store.get_user_balance_async(USER + 1) == 7
    assert [(e.delta, e.balance_after) for e in await store.ledger(USER + 1)] == [(7, 7)]


async def test_the_database_lent_to_the_application(store: BalanceStore) -> None:
    await store.apply_migrations(
        "contract", ["CREATE TABLE notes (id INTEGER PRIMARY KEY, t TEXT)"]
    )
    assert await store.execute("INSERT INTO notes (id, t) VALUES ($1, $2)", 1, "a") == 1
    assert await store.execute("INSERT INTO notes (id, t) VALUES ($1, $2)", 2, "b") == 1
    assert await store.execute("UPDATE notes SET t = $1", "c") == 2
    assert await store.fetch_one("SELECT t FROM notes WHERE id = $1", 2) == {"t": "c"}
    assert await store.fetch_one("SELECT t FROM notes WHERE id = $1", 3) is None
    assert await store.fetch_all("SELECT id FROM notes ORDER BY id") == [{"id": 1}, {"id": 2}]
    async with store.transaction() as tx:
        assert await tx.execute("DELETE FROM notes WHERE id = $1", 1) == 1
    assert await store.fetch_all("SELECT id FROM notes") == [{"id": 2}]


async def test_async_with_gives_the_store_itself_and_closes_it(store_url: str) -> None:
    store = await open_balance_store(store_url)
    async with store as entered:
        assert entered is store
        assert await entered.get_user_balance_async(USER) == 0
    with pytest.raises(DatabaseUnavailable):
        await store.get_user_balance_async(USER)
    await store.aclose()  # closing twice is harmless
    await store.close()


async def test_the_url_is_shown_with_its_password_masked(pg_store_url: str) -> None:
    parts = urlsplit(pg_store_url)
    secret = "not-the-real-password"
    with_password = pg_store_url.replace(
        f"{parts.scheme}://{parts.netloc}",
        f"{parts.scheme}://{parts.username or 'postgres'}:{secret}@{parts.hostname}:"
        f"{parts.port or 5432}",
    )
    async with open_balance_store(with_password) as store:  # trust auth ignores it
        assert secret not in store.masked_url
        assert secret not in repr(store)
        assert store.masked_url.startswith(f"{parts.scheme}://{parts.username or 'postgres'}:***@")
        assert store.masked_url in repr(store)


async def test_an_sqlite_store_shows_its_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    async with open_balance_store(url) as store:
        assert store.masked_url == url
        assert repr(store) == f"<SQLiteBalanceStore {url}>"
