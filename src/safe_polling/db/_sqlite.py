"""The SQLite backend: one connection on one dedicated worker thread per store.

sqlite3 blocks, so every call runs on the store's own thread and the event loop only
awaits it. One thread and one asyncio lock serialize this process's transactions; across
processes, ``BEGIN IMMEDIATE`` plus ``busy_timeout`` serialize writers on the file, and WAL
mode lets readers proceed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from safe_polling.db._base import (
    DatabaseUnavailable,
    IntegrityError,
    QueryError,
    describe_target,
    mask_database_url,
    sqlite_path,
)
from safe_polling.db._store import (
    BALANCES,
    LEDGER,
    BalanceStore,
    Row,
    Transaction,
    utc_from_text,
)

T = TypeVar("T")

# $1 -> ?1 outside of quoted strings and identifiers (SQLite numbers ?NNN like PostgreSQL).
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\d+)")


def translate_placeholders(sql: str) -> str:
    """Rewrite PostgreSQL ``$n`` placeholders to SQLite ``?n``, leaving literals alone."""
    return _PLACEHOLDER.sub(lambda m: f"?{m.group(1)}" if m.group(1) else m.group(0), sql)


def _translate_error(exc: sqlite3.Error, target: str) -> Exception:
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(f"constraint violated: {exc}")
    if isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "unable to open" in str(exc) or "disk" in str(exc)
    ):
        return DatabaseUnavailable(f"{target} is unavailable: {exc}")
    return QueryError(f"statement failed: {exc}")


class _Worker:
    """The store's thread and connection; every method here runs on that thread."""

    def __init__(self, path: str, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.conn: sqlite3.Connection | None = None

    def connect(self) -> None:
        # isolation_level=None: no implicit transactions; we issue BEGIN IMMEDIATE ourselves.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            # busy_timeout first: switching to WAL needs a lock another process may hold.
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")  # money: durable on commit
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a fresh file to WAL needs an exclusive lock, and SQLite reports BUSY
        # at once (without its busy handler) while another process is opening the same
        # file: retry until busy_timeout. We are on the worker thread, so sleeping is fine.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _cursor(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        assert self.conn is not None, "store is closed"
        return self.conn.execute(translate_placeholders(sql), args)

    def execute(self, sql: str, args: tuple[object, ...]) -> int:
        cur = self._cursor(sql, args)
        cur.fetchall()  # finish the statement so RETURNING/DDL are fully applied
        return max(cur.rowcount, 0)

    def fetch_all(self, sql: str, args: tuple[object, ...]) -> list[Row]:
        return [dict(r) for r in self._cursor(sql, args).fetchall()]

    def fetch_one(self, sql: str, args: tuple[object, ...]) -> Row | None:
        rows = self.fetch_all(sql, args)
        return rows[0] if rows else None

    def rollback_quietly(self) -> None:
        if self.conn is not None and self.conn.in_transaction:
            # Nothing better to do on failure: the connection stays usable or is closed next.
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def close(self) -> None:
        if self.conn is not None:
            self.rollback_quietly()
            self.conn.close()
            self.conn = None


class _SQLiteTransaction:
    def __init__(self, store: SQLiteBalanceStore) -> None:
        self._store = store

    async def execute(self, sql: str, *args: object) -> int:
        return await self._store._call(self._store._worker.execute, sql, args)

    async def fetch_one(self, sql: str, *args: object) -> Row | None:
        return await self._store._call(self._store._worker.fetch_one, sql, args)

    async def fetch_all(self, sql: str, *args: object) -> list[Row]:
        return await self._store._call(self._store._worker.fetch_all, sql, args)


class SQLiteBalanceStore(BalanceStore):
    """A :class:`~safe_polling.db.BalanceStore` on an SQLite file (or ``:memory:``).

    Open it with :func:`~safe_polling.db.open_balance_store` and a ``sqlite:///`` URL.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[Literal["sqlite", "postgres"]] = "sqlite"

    def __init__(self, url: str, *, busy_timeout: float = 5.0) -> None:
        super().__init__(mask_database_url(url))
        self._target = describe_target(url)
        self._worker = _Worker(sqlite_path(url), busy_timeout)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    async def _open(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="safe_polling-sqlite")
        try:
            await self._call(self._worker.connect)
            await self._migrate()
        except BaseException:
            await self.aclose()
            raise

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise DatabaseUnavailable(f"{self._target}: the store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except sqlite3.Error as exc:
            raise _translate_error(exc, self._target) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """See :meth:`BalanceStore.transaction`."""
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            # Waiting for our own lock would hang forever: say so instead.
            raise RuntimeError(
                "nested transaction on the same SQLite store: inside 'async with "
                "store.transaction() as tx' use tx, not the store's other methods"
            )
        async with self._lock:
            self._owner = task
            try:
                await self._call(self._worker.execute, "BEGIN IMMEDIATE", ())
                yield _SQLiteTransaction(self)
                await self._call(self._worker.execute, "COMMIT", ())
            except BaseException:
                # Queued without awaiting, so it also runs when we are being cancelled (the
                # BEGIN or a statement may still complete on the thread after we stopped
                # waiting). The thread is FIFO: it runs before the next transaction's BEGIN.
                if self._executor is not None:
                    self._executor.submit(self._worker.rollback_quietly)
                raise
            finally:
                self._owner = None

    async def aclose(self) -> None:
        """See :meth:`BalanceStore.aclose`."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._worker.close)
        executor.shutdown(wait=False)  # the thread is idle now and exits by itself

    def _ddl(self) -> list[str]:
        return [
            f"CREATE TABLE {BALANCES} (user_id INTEGER PRIMARY KEY, "
            "balance INTEGER NOT NULL CHECK (balance >= 0))",
            f"CREATE TABLE {LEDGER} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "user_id INTEGER NOT NULL, delta INTEGER NOT NULL, balance_after INTEGER NOT NULL, "
            "reason TEXT NOT NULL, idempotency_key TEXT, created_at TEXT NOT NULL "
            "DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))",
            f"CREATE UNIQUE INDEX {LEDGER}_key ON {LEDGER} (idempotency_key)",
            f"CREATE INDEX {LEDGER}_user ON {LEDGER} (user_id, id)",
        ]

    def _to_datetime(self, value: Any) -> datetime:
        return utc_from_text(value)
