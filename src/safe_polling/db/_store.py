"""The store interface and the balance logic, written once for every SQL backend.

A backend only supplies :meth:`BalanceStore.transaction` (a :class:`Transaction` that speaks
``$1``-style SQL), the dialect bits of its DDL and :meth:`BalanceStore.aclose`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self

from safe_polling.db._base import (
    BalanceOverflow,
    BalanceStoreError,
    IdempotencyConflict,
    InsufficientFunds,
    IntegrityError,
    LedgerEntry,
    check_amount,
    check_key,
    check_reason,
    check_user_id,
)

__all__ = ["BalanceStore", "Row", "Transaction"]

Row = dict[str, Any]
"""A result row: column name to value.

.. versionadded:: 0.1.0
"""

BALANCES = "safe_polling_balances"
LEDGER = "safe_polling_ledger"
COMPONENT = "safe_polling.balances"

_RECORDED = (
    "SELECT user_id, delta, balance_after FROM safe_polling_ledger WHERE idempotency_key = $1"
)
_BALANCE = "SELECT balance FROM safe_polling_balances WHERE user_id = $1"
# The WHERE keeps the sum within BIGINT on every backend (SQLite would turn it into an
# inexact float): a credit that would overflow updates no row, and returns none.
_ADD = (
    "INSERT INTO safe_polling_balances AS b (user_id, balance) VALUES ($2, $1) "
    "ON CONFLICT (user_id) DO UPDATE SET balance = b.balance + excluded.balance "
    "WHERE b.balance <= 9223372036854775807 - excluded.balance "
    "RETURNING balance"
)
# The whole point of the store: check and change in ONE statement, so two concurrent
# subtractions can never both see the same old balance.
_SUBTRACT = (
    "UPDATE safe_polling_balances SET balance = balance - $1 "
    "WHERE user_id = $2 AND balance >= $1 RETURNING balance"
)
_ENSURE_ROW = (
    "INSERT INTO safe_polling_balances (user_id, balance) VALUES ($1, 0) ON CONFLICT DO NOTHING"
)
_SET = "UPDATE safe_polling_balances SET balance = $2 WHERE user_id = $1"
_RECORD = (
    "INSERT INTO safe_polling_ledger (user_id, delta, balance_after, reason, idempotency_key) "
    "VALUES ($1, $2, $3, $4, $5)"
)
_HISTORY = (
    "SELECT user_id, delta, balance_after, reason, idempotency_key, created_at "
    "FROM safe_polling_ledger WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
)


class Transaction(Protocol):
    """One database transaction, handed out by :meth:`BalanceStore.transaction`.

    SQL uses PostgreSQL's ``$1, $2, ...`` placeholders on every backend (SQLite gets them
    rewritten to ``?1, ?2, ...``), so one statement text serves both. Stick to the common
    subset of both dialects (``INSERT ... ON CONFLICT``, ``RETURNING``, ``BIGINT``, ``TEXT``)
    when a bot must run on both.

    .. versionadded:: 0.1.0
    """

    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement and return the number of rows it changed (0 for DDL)."""

    async def fetch_one(self, sql: str, *args: object) -> Row | None:
        """Run one statement and return its first row, or :obj:`None`."""

    async def fetch_all(self, sql: str, *args: object) -> list[Row]:
        """Run one statement and return all its rows."""


class BalanceStore(abc.ABC):
    """User balances in integer credits, with a ledger, safe under concurrency.

    Get one with :func:`~safe_polling.db.open_balance_store`. Every method is a coroutine
    that never blocks the event loop. Every change is one transaction that also writes a
    :class:`~safe_polling.db.LedgerEntry`; a change made with an ``idempotency_key`` happens
    at most once, and replaying the key returns the balance recorded the first time.

    The store also lends its database to the application (:meth:`execute`,
    :meth:`fetch_one`, :meth:`fetch_all`, :meth:`transaction`, :meth:`apply_migrations`), so a
    bot can keep its own tables next to the balances on SQLite and PostgreSQL alike.

    Example:
        .. code:: python

            async with open_balance_store("sqlite:///bot.sqlite3") as store:
                await store.add_user_balance_async(42, 100, reason="top-up")
                try:
                    await store.subtract_user_balance_async(
                        42, 30, reason="generation", idempotency_key=f"gen:{job_id}"
                    )
                except InsufficientFunds as exc:
                    print(f"need {exc.needed}, have {exc.balance}")

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[Literal["sqlite", "postgres"]]
    """``"sqlite"`` or ``"postgres"``: lets application SQL pick a dialect where it must."""

    _FOR_UPDATE: ClassVar[str] = ""

    def __init__(self, masked_url: str) -> None:
        self._masked_url = masked_url

    @property
    def masked_url(self) -> str:
        """:obj:`str`: The database URL with the password replaced by ``***``."""
        return self._masked_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._masked_url}>"

    # -- what a backend provides -------------------------------------------------------

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Return an async context manager running its body in one transaction.

        The transaction commits when the block exits normally and rolls back when it
        raises. On SQLite it holds the write lock (``BEGIN IMMEDIATE``) for the whole block,
        so keep the block short and await nothing but the database inside it; use the
        handle it gives, not the store's other methods (on SQLite that raises
        :exc:`RuntimeError` rather than waiting for itself).

        Example:
            .. code:: python

                async with store.transaction() as tx:
                    row = await tx.fetch_one("SELECT state FROM jobs WHERE id = $1", job_id)
                    await tx.execute("UPDATE jobs SET state = 'done' WHERE id = $1", job_id)

        Raises:
            DatabaseUnavailable: The database cannot be reached.
            QueryError: A statement was rejected.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the store's connections; calling it twice is harmless.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    def _ddl(self) -> list[str]:
        """The balance schema in this backend's dialect, one statement per version."""

    @abc.abstractmethod
    def _to_datetime(self, value: Any) -> datetime:
        """Convert a stored ``created_at`` to an aware UTC :class:`datetime.datetime`."""

    async def close(self) -> None:
        """Alias of :meth:`aclose`.

        .. versionadded:: 0.1.0
        """
        await self.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the database, lent to the application -----------------------------------------

    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement in its own transaction; return the number of rows changed.

        Args:
            sql (:obj:`str`): One statement with ``$1``-style placeholders.
            *args: The values of the placeholders.

        Returns:
            :obj:`int`: Rows inserted, updated or deleted (0 for DDL).

        Raises:
            DatabaseUnavailable: The database cannot be reached.
            IntegrityError: A constraint was violated.
            QueryError: The statement was rejected.

        .. versionadded:: 0.1.0
        """
        async with self.transaction() as tx:
            return await tx.execute(sql, *args)

    async def fetch_one(self, sql: str, *args: object) -> Row | None:
        """Run one statement in its own transaction and return its first row, or :obj:`None`.

        Args:
            sql (:obj:`str`): One statement with ``$1``-style placeholders.
            *args: The values of the placeholders.

        Returns:
            dict[:obj:`str`, Any] | :obj:`None`: The first row by column name.

        Raises:
            DatabaseUnavailable: The database cannot be reached.
            QueryError: The statement was rejected.

        .. versionadded:: 0.1.0
        """
        async with self.transaction() as tx:
            return await tx.fetch_one(sql, *args)

    async def fetch_all(self, sql: str, *args: object) -> list[Row]:
        """Run one statement in its own transaction and return all its rows.

        Args:
            sql (:obj:`str`): One statement with ``$1``-style placeholders.
            *args: The values of the placeholders.

        Returns:
            list[dict[:obj:`str`, Any]]: The rows by column name.

        Raises:
            DatabaseUnavailable: The database cannot be reached.
            QueryError: The statement was rejected.

        .. versionadded:: 0.1.0
        """
        async with self.transaction() as tx:
            return await tx.fetch_all(sql, *args)

    async def apply_migrations(self, component: str, steps: Sequence[str]) -> int:
        """Bring *component*'s tables up to date: run the steps not yet applied, in order.

        The version of each component is recorded in the ``safe_polling_schema`` table; step
        *n* (counting from 1) runs once, in one transaction with the version bump, under a
        lock that makes two processes opening at once safe. Never edit or reorder applied
        steps: append new ones.

        Args:
            component (:obj:`str`): A name owning the steps, e.g. ``"kie_bot"``.
            steps (Sequence[:obj:`str`]): One SQL statement per step.

        Returns:
            :obj:`int`: The component's schema version afterwards.

        Raises:
            BalanceStoreError: The database holds a newer version than *steps* knows.

        Example:
            .. code:: python

                await store.apply_migrations("kie_bot", [
                    "CREATE TABLE generations (id TEXT PRIMARY KEY, user_id BIGINT NOT NULL)",
                    "CREATE INDEX generations_user ON generations (user_id)",
                ])

        .. versionadded:: 0.1.0
        """
        async with self._migration_lock() as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS safe_polling_schema "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = await tx.fetch_one(
                "SELECT version FROM safe_polling_schema WHERE component = $1", component
            )
            current = 0 if row is None else int(row["version"])
            if current > len(steps):
                raise BalanceStoreError(
                    f"schema of {component!r} is at version {current}, newer than the "
                    f"{len(steps)} steps this code knows: upgrade the code"
                )
            for step in steps[current:]:
                await tx.execute(step)
            if current < len(steps):
                await tx.execute(
                    "INSERT INTO safe_polling_schema (component, version) VALUES ($1, $2) "
                    "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    component,
                    len(steps),
                )
            return len(steps)

    def _migration_lock(self) -> AbstractAsyncContextManager[Transaction]:
        # SQLite's BEGIN IMMEDIATE already excludes every other writer; PostgreSQL
        # overrides this to add an advisory lock.
        return self.transaction()

    async def _migrate(self) -> None:
        await self.apply_migrations(COMPONENT, self._ddl())

    # -- balances ----------------------------------------------------------------------

    async def get_user_balance_async(self, user_id: int) -> int:
        """Return the balance of *user_id*; 0 for a user never seen.

        Args:
            user_id (:obj:`int`): A Telegram user id (signed 64-bit).

        Returns:
            :obj:`int`: The balance in credits.

        Raises:
            ValueError: *user_id* is not a signed 64-bit int.
            DatabaseUnavailable: The database cannot be reached.

        .. versionadded:: 0.1.0
        """
        rows = await self._read(_BALANCE, check_user_id(user_id))
        return int(rows[0]["balance"]) if rows else 0

    async def set_user_balance_async(
        self, user_id: int, amount: int, *, reason: str = "set"
    ) -> int:
        """Set the balance of *user_id* to *amount* (an admin correction); return it.

        The ledger records the difference to the old balance.

        Args:
            user_id (:obj:`int`): A Telegram user id (signed 64-bit).
            amount (:obj:`int`): The new balance, ``>= 0``.
            reason (:obj:`str`, optional): Why, for the ledger. Defaults to ``"set"``.

        Returns:
            :obj:`int`: The new balance.

        Raises:
            ValueError: A bad *user_id*, *amount* or *reason* (not a str, longer than
                :data:`MAX_REASON_LENGTH`, or holding NUL or a lone surrogate: the same
                error on every backend).
            DatabaseUnavailable: The database cannot be reached.

        .. versionadded:: 0.1.0
        """
        uid, amt = check_user_id(user_id), check_amount(amount, allow_zero=True)
        why = check_reason(reason)
        async with self.transaction() as tx:
            await tx.execute(_ENSURE_ROW, uid)
            old = await self._balance(tx, uid, lock=True)
            await tx.execute(_SET, uid, amt)
            await tx.execute(_RECORD, uid, amt - old, amt, why, None)
        return amt

    async def add_user_balance_async(
        self,
        user_id: int,
        amount: int,
        *,
        reason: str = "add",
        idempotency_key: str | None = None,
    ) -> int:
        """Credit *amount* to *user_id*; return the new balance.

        Args:
            user_id (:obj:`int`): A Telegram user id (signed 64-bit).
            amount (:obj:`int`): Credits to add, ``> 0``.
            reason (:obj:`str`, optional): Why, for the ledger. Defaults to ``"add"``.
            idempotency_key (:obj:`str`, optional): Makes the credit happen at most once,
                e.g. ``f"payment:{charge_id}"``; a replay returns the first result.

        Returns:
            :obj:`int`: The balance right after this credit (for a replay: after the first).

        Raises:
            ValueError: A bad *user_id*, *amount*, *reason* or *idempotency_key* (a str
                longer than :data:`MAX_REASON_LENGTH` / :data:`MAX_KEY_LENGTH`, or holding
                NUL or a lone surrogate: the same error on every backend).
            IdempotencyConflict: The key was used for another user or amount.
            BalanceOverflow: The balance would pass the signed 64-bit maximum.
            DatabaseUnavailable: The database cannot be reached.

        .. versionadded:: 0.1.0
        """
        return await self._change(user_id, amount, 1, reason, idempotency_key)

    async def subtract_user_balance_async(
        self,
        user_id: int,
        amount: int,
        *,
        reason: str = "subtract",
        idempotency_key: str | None = None,
    ) -> int:
        """Debit *amount* from *user_id* if the balance covers it; return the new balance.

        Check and change are one conditional ``UPDATE``, so concurrent debits can never
        overdraw. A refused debit records nothing: a later retry with the same key may
        succeed.

        Args:
            user_id (:obj:`int`): A Telegram user id (signed 64-bit).
            amount (:obj:`int`): Credits to take, ``> 0``.
            reason (:obj:`str`, optional): Why, for the ledger. Defaults to ``"subtract"``.
            idempotency_key (:obj:`str`, optional): Makes the debit happen at most once.

        Returns:
            :obj:`int`: The balance right after this debit (for a replay: after the first).

        Raises:
            InsufficientFunds: The balance is lower than *amount*; nothing changed.
            ValueError: A bad *user_id*, *amount*, *reason* or *idempotency_key* (a str
                longer than :data:`MAX_REASON_LENGTH` / :data:`MAX_KEY_LENGTH`, or holding
                NUL or a lone surrogate: the same error on every backend).
            IdempotencyConflict: The key was used for another user or amount.
            DatabaseUnavailable: The database cannot be reached.

        .. versionadded:: 0.1.0
        """
        return await self._change(user_id, amount, -1, reason, idempotency_key)

    async def ledger(self, user_id: int, *, limit: int = 50) -> list[LedgerEntry]:
        """Return the latest changes of *user_id*'s balance, newest first.

        Args:
            user_id (:obj:`int`): A Telegram user id (signed 64-bit).
            limit (:obj:`int`, optional): At most this many entries. Defaults to 50.

        Returns:
            list[:class:`~safe_polling.db.LedgerEntry`]: The entries.

        Raises:
            ValueError: A bad *user_id* or *limit*.
            DatabaseUnavailable: The database cannot be reached.

        .. versionadded:: 0.1.0
        """
        uid = check_user_id(user_id)
        count = check_amount(limit)
        rows = await self._read(_HISTORY, uid, count)
        return [
            LedgerEntry(
                user_id=int(r["user_id"]),
                delta=int(r["delta"]),
                balance_after=int(r["balance_after"]),
                reason=str(r["reason"]),
                idempotency_key=r["idempotency_key"],
                created_at=self._to_datetime(r["created_at"]),
            )
            for r in rows
        ]

    # -- internals ---------------------------------------------------------------------

    async def _read(self, sql: str, *args: object) -> list[Row]:
        """The rows of one of the store's own reads; a backend may run it outside BEGIN/COMMIT."""
        async with self.transaction() as tx:
            return await tx.fetch_all(sql, *args)

    async def _balance(self, tx: Transaction, uid: int, *, lock: bool = False) -> int:
        row = await tx.fetch_one(_BALANCE + (self._FOR_UPDATE if lock else ""), uid)
        return 0 if row is None else int(row["balance"])

    async def _change(
        self, user_id: object, amount: object, sign: int, reason: object, key: object
    ) -> int:
        uid, amt = check_user_id(user_id), check_amount(amount)
        why, idem = check_reason(reason), check_key(key)
        try:
            return await self._apply_change(uid, amt, sign, why, idem)
        except IntegrityError:
            if idem is None:
                raise
            # Lost a race: a concurrent call with the same key committed first, and our
            # whole transaction (balance change included) was rolled back. Its result is ours.
            async with self.transaction() as tx:
                recorded = await self._recorded(tx, idem, uid, sign * amt)
            if recorded is None:
                raise
            return recorded

    async def _apply_change(
        self, uid: int, amt: int, sign: int, why: str, idem: str | None
    ) -> int:
        """Change the balance and write the ledger row atomically; the balance after.

        A backend may do it in fewer round trips (one statement on PostgreSQL).
        """
        delta = sign * amt
        async with self.transaction() as tx:
            if idem is not None:
                recorded = await self._recorded(tx, idem, uid, delta)
                if recorded is not None:
                    return recorded
            row = await tx.fetch_one(_ADD if sign > 0 else _SUBTRACT, amt, uid)
            if row is None and sign > 0:  # the credit would pass the BIGINT maximum
                raise overflow(uid, amt)
            if row is None:
                raise InsufficientFunds(uid, await self._balance(tx, uid), amt)
            after = int(row["balance"])
            await tx.execute(_RECORD, uid, delta, after, why, idem)
            return after

    async def _recorded(self, tx: Transaction, key: str, uid: int, delta: int) -> int | None:
        row = await tx.fetch_one(_RECORDED, key)
        if row is None:
            return None
        return replayed(key, row["user_id"], row["delta"], row["balance_after"], uid, delta)


def overflow(uid: int, amt: int) -> BalanceOverflow:
    """The error for a credit that would take the balance past the BIGINT maximum."""
    return BalanceOverflow(
        f"adding {amt} to the balance of user {uid} would exceed {2**63 - 1}; nothing was changed"
    )


def replayed(key: str, first_user: Any, first_delta: Any, after: Any, uid: int, delta: int) -> int:
    """The balance after the change first made with *key*, if this call repeats it.

    Raises:
        IdempotencyConflict: The key was first used for another user or amount.
    """
    if int(first_user) != uid or int(first_delta) != delta:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was first used for user {first_user} with "
            f"delta {first_delta}, now replayed for user {uid} with delta {delta}"
        )
    return int(after)


def utc_from_text(value: Any) -> datetime:
    """Parse SQLite's ``YYYY-MM-DD HH:MM:SS.SSS`` UTC text into an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
