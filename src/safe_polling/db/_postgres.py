"""The PostgreSQL backend: an asyncpg connection pool (the ``postgres`` extra)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

from safe_polling._redaction import mask_secrets
from safe_polling.db._base import (
    DatabaseUnavailable,
    InsufficientFunds,
    IntegrityError,
    QueryError,
    describe_target,
    mask_database_url,
)
from safe_polling.db._store import (
    BALANCES,
    LEDGER,
    BalanceStore,
    Row,
    Transaction,
    overflow,
    replayed,
)

if TYPE_CHECKING:
    import asyncpg

# Seconds a connection kept after a statement waits for the next one before going back to
# the pool (which closes it after its own idle timeout, 300 s).
_KEEP_IDLE = 5.0


# A balance change in ONE statement, one round trip instead of BEGIN, UPDATE, INSERT, COMMIT
# (benchmarks/db_bench.py: 0.31-0.43x of pgbench running those, >= 1x in one statement). A
# data-modifying CTE is atomic without an explicit transaction: the idempotency check, the
# conditional change, and the ledger row only when the change happened. The conditional
# UPDATE still re-checks `balance >= amount` on the newest row version after waiting for a
# concurrent change (READ COMMITTED), so two subtractions never both see the old balance; a
# concurrent call with the same key fails on the ledger's unique key and rolls back whole.
# $1 amount, $2 user, $3 signed delta, $4 reason, $5 idempotency key (or NULL).
_CHANGE = """
WITH prior AS (
    SELECT user_id, delta, balance_after FROM safe_polling_ledger
    WHERE idempotency_key = $5::text
), changed AS (
    {change}
), recorded AS (
    INSERT INTO safe_polling_ledger (user_id, delta, balance_after, reason, idempotency_key)
    SELECT $2::bigint, $3::bigint, balance, $4::text, $5::text FROM changed
    RETURNING balance_after
)
SELECT (SELECT balance_after FROM recorded) AS after, prior.user_id AS first_user,
    prior.delta AS first_delta, prior.balance_after AS first_after
FROM (SELECT 1) AS one LEFT JOIN prior ON true
"""
_CHANGE_BY_SIGN = {
    -1: _CHANGE.format(
        change="UPDATE safe_polling_balances SET balance = balance - $1::bigint "
        "WHERE user_id = $2::bigint AND balance >= $1::bigint "
        "AND NOT EXISTS (SELECT 1 FROM prior) RETURNING balance"
    ),
    1: _CHANGE.format(
        change="INSERT INTO safe_polling_balances AS b (user_id, balance) "
        "SELECT $2::bigint, $1::bigint WHERE NOT EXISTS (SELECT 1 FROM prior) "
        "ON CONFLICT (user_id) DO UPDATE SET balance = b.balance + excluded.balance "
        "WHERE b.balance <= 9223372036854775807 - excluded.balance "
        "RETURNING balance"
    ),
}


def _import_asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise ImportError(
            "a postgres:// DATABASE_URL needs asyncpg: pip install 'safe-polling[postgres]'"
        ) from None
    return asyncpg


def _translate(exc: BaseException, target: str, secret: str | None) -> BaseException | None:
    """Map a driver error to this package's errors; :obj:`None` if *exc* is not one."""
    import asyncpg

    detail = mask_secrets(f"{type(exc).__name__}: {exc}", [secret])
    unavailable = (
        OSError,
        TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,  # terminated, shutting down, starting
        asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
        asyncpg.InvalidAuthorizationSpecificationError,  # bad user or password
        asyncpg.InvalidCatalogNameError,  # no such database
        asyncpg.InternalClientError,  # protocol state broken by a connection killed mid-call
    )
    if isinstance(exc, unavailable) or (
        isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
    ):
        return DatabaseUnavailable(f"{target} is unavailable: {detail}")
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(f"constraint violated: {detail}")
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return QueryError(f"statement failed: {detail}")
    return None


async def _release_all(
    pool: asyncpg.Pool[Any], conns: list[asyncpg.pool.PoolConnectionProxy[Any]]
) -> None:
    for conn in conns:
        with contextlib.suppress(Exception):  # a broken one is terminated by the pool
            await pool.release(conn)


def _still_open(conn: asyncpg.pool.PoolConnectionProxy[Any]) -> bool:
    try:
        return not conn.is_closed()
    except Exception:  # InterfaceError: closed by the server, asyncpg already took it back
        return False


def _rowcount(status: str) -> int:
    # asyncpg returns the command tag: "INSERT 0 1", "UPDATE 3", "CREATE TABLE".
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgTransaction:
    def __init__(
        self, conn: asyncpg.pool.PoolConnectionProxy[Any], store: PostgresBalanceStore
    ) -> None:
        self._conn = conn
        self._store = store

    async def execute(self, sql: str, *args: object) -> int:
        with self._store._translating():
            return _rowcount(await self._conn.execute(sql, *args))

    async def fetch_one(self, sql: str, *args: object) -> Row | None:
        with self._store._translating():
            row = await self._conn.fetchrow(sql, *args)
        return None if row is None else dict(row)

    async def fetch_all(self, sql: str, *args: object) -> list[Row]:
        with self._store._translating():
            return [dict(r) for r in await self._conn.fetch(sql, *args)]


class PostgresBalanceStore(BalanceStore):
    """A :class:`~safe_polling.db.BalanceStore` on PostgreSQL through an asyncpg pool.

    Open it with :func:`~safe_polling.db.open_balance_store` and a ``postgres://`` or
    ``postgresql://`` URL. Query parameters that are not connection options become server
    settings, e.g. ``?search_path=bot`` to keep the tables in schema ``bot``. Connections
    lost while the server restarts fail the calls that were using them with
    :class:`~safe_polling.db.DatabaseUnavailable`; the pool reconnects on the next call.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[Literal["sqlite", "postgres"]] = "postgres"
    _FOR_UPDATE: ClassVar[str] = " FOR UPDATE"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        command_timeout: float | None = 30.0,
        max_connections: int = 10,
    ) -> None:
        super().__init__(mask_database_url(url))
        self._url = url
        self._target = describe_target(url)
        self._secret = urlsplit(url).password
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._max_connections = max_connections
        self._pool: asyncpg.Pool[Any] | None = None
        # Server pids of pooled connections that ran SQL through transaction(); only those
        # need asyncpg's reset (one more round trip) before another caller gets them.
        self._used: set[int] = set()
        # Connections the store's own statements (a balance change, a read) finished with,
        # kept checked out of the pool for the next caller: asyncpg's release (a shielded
        # task, a timeout scope, the reset hook) costs more client CPU than the statement
        # itself (benchmarks/db_bench.py). Every acquire takes from here first, so kept
        # connections never starve the pool.
        self._parked: list[asyncpg.pool.PoolConnectionProxy[Any]] = []
        self._waiting = 0  # callers blocked in pool.acquire(): a finished change serves them
        # After _KEEP_IDLE seconds without a statement they go back to the pool, whose own
        # idle timeout closes them: a quiet bot holds no server connections.
        self._last_parked = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._returning: set[asyncio.Task[None]] = set()

    @contextmanager
    def _translating(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            mapped = _translate(exc, self._target, self._secret)
            if mapped is None:
                raise
            raise mapped from None  # the driver's text is in the message; keep secrets out

    async def _open(self) -> None:
        asyncpg = _import_asyncpg()
        # Name our sessions (visible in pg_stat_activity) unless the URL already does.
        query = parse_qs(urlsplit(self._url).query)
        settings = None if "application_name" in query else {"application_name": "safe_polling"}
        with self._translating():
            try:
                self._pool = await asyncio.wait_for(
                    asyncpg.create_pool(
                        dsn=self._url,
                        # No floor: asyncpg would log a traceback every time it
                        # fails to restore one while the server restarts. The
                        # migration below still connects (and fails) at open.
                        min_size=0,
                        max_size=self._max_connections,
                        timeout=self._connect_timeout,
                        command_timeout=self._command_timeout,
                        server_settings=settings,
                        reset=self._reset,
                    ),
                    self._connect_timeout,
                )
            except ValueError as exc:  # asyncpg's DSN parser: say what, not the DSN
                reason = mask_secrets(str(exc), [self._secret])
                raise DatabaseUnavailable(
                    f"invalid PostgreSQL URL {self.masked_url}: {reason}"
                ) from None
        try:
            await self._migrate()
        except BaseException:
            await self.aclose()
            raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """See :meth:`BalanceStore.transaction`."""
        pool = self._live_pool()
        conn = await self._acquire(pool)
        self._used.add(conn.get_server_pid())
        try:
            with self._translating():  # BEGIN and COMMIT; statements translate their own
                async with conn.transaction():
                    yield _PgTransaction(conn, self)
        finally:
            # If the connection broke after our work was done (or already failed), the pool
            # terminates it and reconnects on the next acquire: this call's outcome stands.
            with contextlib.suppress(Exception):
                await pool.release(conn)

    async def _apply_change(
        self, uid: int, amt: int, sign: int, why: str, idem: str | None
    ) -> int:
        """See :meth:`BalanceStore._apply_change`: here one statement, one round trip."""
        delta = sign * amt
        (row,) = await self._one_statement(_CHANGE_BY_SIGN[sign], amt, uid, delta, why, idem)
        if row["first_user"] is not None:
            assert idem is not None
            return replayed(
                idem, row["first_user"], row["first_delta"], row["first_after"], uid, delta
            )
        if row["after"] is None and sign > 0:  # the credit would pass the BIGINT maximum
            raise overflow(uid, amt)
        if row["after"] is None:  # only the conditional UPDATE can change nothing
            raise InsufficientFunds(uid, await self.get_user_balance_async(uid), amt)
        return int(row["after"])

    async def _read(self, sql: str, *args: object) -> list[Row]:
        """See :meth:`BalanceStore._read`: one statement, no BEGIN/COMMIT."""
        return [dict(row) for row in await self._one_statement(sql, *args)]

    async def _one_statement(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """Run one of the store's own statements (atomic alone) on a kept connection."""
        pool = self._live_pool()
        conn = await self._acquire(pool)
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        except BaseException as exc:
            # Broken or cancelled mid-statement: asyncpg's release waits out the cancel
            # or terminates the connection (the pool reconnects on a later acquire).
            await _release_all(pool, [conn])
            # As _translating() does; inline, as this path runs per balance change.
            mapped = _translate(exc, self._target, self._secret)
            if mapped is None:
                raise
            raise mapped from None
        if self._waiting or self._pool is not pool:
            await pool.release(conn)  # someone waits in pool.acquire(), or we are closing
        else:
            self._park(conn)
        return rows

    def _park(self, conn: asyncpg.pool.PoolConnectionProxy[Any]) -> None:
        self._parked.append(conn)
        loop = asyncio.get_running_loop()
        self._last_parked = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(_KEEP_IDLE, self._return_idle)

    def _return_idle(self) -> None:
        """Give the kept connections back to the pool once no statement ran for a while."""
        self._idle_timer = None
        pool = self._pool
        if pool is None or not self._parked:
            return
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_parked
        if quiet < _KEEP_IDLE:
            self._idle_timer = loop.call_later(_KEEP_IDLE - quiet, self._return_idle)
            return
        parked, self._parked = self._parked, []
        task = loop.create_task(_release_all(pool, parked))
        self._returning.add(task)
        task.add_done_callback(self._returning.discard)

    def _live_pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            raise DatabaseUnavailable(f"{self._target}: the store is closed")
        return self._pool

    async def _acquire(self, pool: asyncpg.Pool[Any]) -> asyncpg.pool.PoolConnectionProxy[Any]:
        """A parked connection if one is still open, else one from the pool."""
        while self._parked:
            conn = self._parked.pop()
            if _still_open(conn):
                return conn
            # Closed under us (a server restart): the pool replaces it on a later acquire.
            await _release_all(pool, [conn])
        self._waiting += 1
        try:
            with self._translating():  # acquire may (re)connect
                return await pool.acquire()
        finally:
            self._waiting -= 1

    async def _reset(self, conn: asyncpg.Connection[Any]) -> None:
        """asyncpg's reset (advisory locks, cursors, LISTEN, settings) where SQL could leave some.

        The one-statement balance change leaves nothing behind: skipping the reset after it
        saves a round trip per change (benchmarks/db_bench.py).
        """
        pid = conn.get_server_pid()
        if pid in self._used:
            self._used.discard(pid)
            await conn.reset()

    @asynccontextmanager
    async def _migration_lock(self) -> AsyncIterator[Transaction]:
        async with self.transaction() as tx:
            # Per schema, so stores in different schemas of one database do not wait.
            await tx.fetch_one(
                "SELECT pg_advisory_xact_lock(hashtext('safe_polling.schema:' "
                "|| coalesce(current_schema(), '')))"
            )
            yield tx

    async def aclose(self) -> None:
        """See :meth:`BalanceStore.aclose`."""
        pool, self._pool = self._pool, None
        parked, self._parked = self._parked, []
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if pool is not None:
            await _release_all(pool, parked)  # close() waits for every checked-out connection
            await asyncio.gather(*self._returning, return_exceptions=True)
            try:
                await asyncio.wait_for(pool.close(), self._connect_timeout)
            except (TimeoutError, OSError):
                pool.terminate()  # a dead server must not hang shutdown

    def _ddl(self) -> list[str]:
        return [
            f"CREATE TABLE {BALANCES} (user_id BIGINT PRIMARY KEY, "
            "balance BIGINT NOT NULL CHECK (balance >= 0))",
            f"CREATE TABLE {LEDGER} (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "user_id BIGINT NOT NULL, delta BIGINT NOT NULL, balance_after BIGINT NOT NULL, "
            "reason TEXT NOT NULL, idempotency_key TEXT, "
            "created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
            f"CREATE UNIQUE INDEX {LEDGER}_key ON {LEDGER} (idempotency_key)",
            f"CREATE INDEX {LEDGER}_user ON {LEDGER} (user_id, id)",
        ]

    def _to_datetime(self, value: Any) -> datetime:
        stamp: datetime = value  # asyncpg decodes TIMESTAMPTZ to an aware datetime
        return stamp.astimezone(UTC)
