"""A lease held as a PostgreSQL session-level advisory lock on a dedicated connection."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import anyio

from safe_polling._redaction import mask_secrets
from safe_polling.lease._base import (
    HolderInfo,
    LeaseError,
    LeaseLost,
    LeaseUnavailable,
    PollingLease,
    _default_version,
    _host_name,
    _split_url,
    bot_id_from_token,
)

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresLease", "advisory_key"]

_log = logging.getLogger("safe_polling.lease")

_APP_PREFIX = "safe-polling"
# PostgreSQL truncates application_name to NAMEDATALEN - 1 bytes.
_APP_NAME_MAX = 63

_LOCK_FILTER = """
    l.locktype = 'advisory'
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1
    AND l.granted
"""
_CHECK_SQL = f"""
    SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE {_LOCK_FILTER} AND l.pid = pg_backend_pid())
"""  # noqa: S608 - constant text
_HOLDER_SQL = f"""
    SELECT l.pid, a.application_name, a.backend_start, host(a.client_addr) AS client_addr
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE {_LOCK_FILTER}
    LIMIT 1
"""  # noqa: S608 - constant text
_SET_APP_SQL = "SELECT set_config('application_name', $1, false)"
_UNLOCK_SQL = "SELECT pg_advisory_unlock($1), set_config('application_name', $2, false)"
_SESSION_SQL = """
    SELECT set_config('tcp_keepalives_idle', $1, false),
           set_config('tcp_keepalives_interval', $2, false),
           set_config('tcp_keepalives_count', $3, false),
           set_config('tcp_user_timeout', $4, false),
           set_config('client_connection_check_interval', $5, false),
           set_config('idle_session_timeout', '0', false),
           set_config('statement_timeout', '0', false),
           set_config('lock_timeout', '0', false)
"""


def advisory_key(bot_id: int | str, name: str = "default") -> int:
    """Return the 64-bit advisory lock key of a bot id and lease name.

    The key is the first 8 bytes (big-endian, signed) of
    ``sha256("safe-polling:<bot_id>:<name>")``: stable across versions, hosts and Python
    runs, and used with the one-argument ``bigint`` form of ``pg_advisory_lock``. In
    ``pg_locks`` it shows as ``classid = key >> 32``, ``objid = key & 0xFFFFFFFF``,
    ``objsubid = 1``.

    Args:
        bot_id: The bot id, or a bot token (only the part before ``':'`` is used).
        name: Lease name, to run several independent pollers for one bot.

    Returns:
        The signed 64-bit key.

    .. versionadded:: 0.1.0
    """
    digest = hashlib.sha256(f"safe-polling:{bot_id_from_token(bot_id)}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _key_parts(key: int) -> tuple[int, int]:
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def _looks_pooled(backend_pids: Sequence[int]) -> bool:
    """Whether consecutive statements ran on different server sessions.

    A transaction-mode pooler (PgBouncer ``pool_mode=transaction``, Neon's pooler, Supavisor
    in transaction mode) may hand every statement to another server connection, so a session
    advisory lock would stay behind on a connection some other client then uses. Real
    PostgreSQL, or a session-mode pooler, always answers with one backend pid.
    """
    return len(set(backend_pids)) > 1


def _app_name(version: str, started: float | None) -> str:
    stamp = "-" if started is None else str(int(started))
    text = f"{_APP_PREFIX} {version.replace(' ', '_')} {os.getpid()} {stamp} {_host_name()}"
    return text[:_APP_NAME_MAX]


def _parse_holder(row: Any) -> HolderInfo:
    backend = f"backend_pid={row['pid']}"
    if row["client_addr"]:
        backend += f" client={row['client_addr']}"
    started: dt.datetime | None = row["backend_start"]
    parts = (row["application_name"] or "").split(" ", 4)
    if len(parts) != 5 or parts[0] != _APP_PREFIX or not parts[2].isdigit():
        # Some other client holds this key (or its row is not visible to our role).
        return HolderInfo(row["client_addr"] or "unknown", None, started, "unknown", backend)
    _, version, pid, stamp, host = parts
    if stamp.isdigit():
        started = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    return HolderInfo(host, int(pid), started, version, backend)


class PostgresLease(PollingLease):
    """A lease held as a session-level PostgreSQL advisory lock.

    The lock lives on a dedicated :mod:`asyncpg` connection (never a pool), keyed by
    :func:`advisory_key`. A standby waits inside ``pg_advisory_lock``, so the server hands it
    the lock the moment the holder unlocks or its session ends (a killed process closes its
    socket at once). For a holder whose host vanishes without closing the socket the lease
    session sets server-side TCP keepalives and ``tcp_user_timeout``: the server frees the
    lock after about ``keepalive_idle + keepalive_interval * keepalive_count`` seconds
    (11 s by default). The holder itself checks the lock every ``check_interval`` seconds
    with a ``check_timeout`` bound, so it notices such a partition before the server does.

    Who holds the lease is read from ``pg_locks`` joined to ``pg_stat_activity``: the lease
    connection's ``application_name`` is ``"safe-polling <version> <pid> <since> <host>"``.

    Transaction-mode poolers cannot carry session locks; connecting through one raises
    :class:`LeaseError` (detected by consecutive statements reporting different
    ``pg_backend_pid()``; the fence check also fails if a later statement lands on another
    session). Use the database's direct (non-pooled) address for the lease.

    Args:
        dsn: ``postgresql://`` or ``postgres://`` URL.
        bot_id: Bot id, or the bot token: only the part before ``':'`` is kept.
        name: Lease name, for several independent pollers of one bot.
        keepalive_idle: Seconds of silence before the server probes the holder's socket.
        keepalive_interval: Seconds between probes.
        keepalive_count: Unanswered probes before the server drops the session.
        tcp_user_timeout_ms: Milliseconds unacknowledged data may stay in flight.
        check_interval: Seconds between the holder's own background lock checks.
        check_timeout: Seconds a check (and :meth:`ensure_held`) may take before the lease
            counts as lost.
        connect_timeout: Seconds to wait for a connection.
        version: Version shown to other instances; defaults to the Render commit or the
            library version.

    Example:
        >>> lease = PostgresLease("postgresql://app@db:5432/app", bot_id="123456:secret")
        >>> lease.describe()
        'postgres lease on db:5432/app (key 123456:default)'

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        dsn: str,
        *,
        bot_id: int | str,
        name: str = "default",
        keepalive_idle: int = 5,
        keepalive_interval: int = 2,
        keepalive_count: int = 3,
        tcp_user_timeout_ms: int = 10_000,
        check_interval: float = 2.0,
        check_timeout: float = 5.0,
        connect_timeout: float = 10.0,
        version: str | None = None,
    ) -> None:
        super().__init__()
        parts = _split_url(dsn, "the PostgreSQL lease URL")
        if parts.scheme not in ("postgres", "postgresql"):
            raise LeaseError("PostgreSQL lease needs a postgres:// or postgresql:// URL")
        self._dsn = dsn
        self._password = unquote(parts.password) if parts.password else ""
        self._where = f"{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
        self._bot_id = bot_id_from_token(bot_id)
        self._name = name
        self._key = advisory_key(self._bot_id, name)
        self._session = (
            str(keepalive_idle),
            str(keepalive_interval),
            str(keepalive_count),
            str(tcp_user_timeout_ms),
            # Lets the server cancel a standby's lock wait whose client went away.
            str(max(1000, keepalive_interval * 1000)),
        )
        self._check_interval = check_interval
        self._check_timeout = check_timeout
        self._connect_timeout = connect_timeout
        self._version = version or _default_version()
        self._conn: asyncpg.Connection[Any] | None = None
        self._op = asyncio.Lock()
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def dsn(self) -> str:
        """The database URL of the lease (it may hold a password: never log it).

        :func:`safe_polling.run_polling` uses it to keep its delivery records in
        the same database when no ``DATABASE_URL`` is set.

        .. versionadded:: 0.1.0
        """
        return self._dsn

    def describe(self) -> str:
        return f"postgres lease on {self._where} (key {self._bot_id}:{self._name})"

    # -- connections -------------------------------------------------------------------
    async def _open(self, app_name: str) -> asyncpg.Connection[Any]:
        try:
            import asyncpg
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise LeaseError(
                "PostgresLease needs asyncpg: pip install safe-polling[postgres]"
            ) from exc
        try:
            return await asyncpg.connect(
                self._dsn,
                timeout=self._connect_timeout,
                server_settings={"application_name": app_name},
                # No prepared statements survive on a pooler; we run few statements anyway.
                statement_cache_size=0,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            detail = mask_secrets(f"{type(exc).__name__}: {exc}", [self._password])
            # Refused, timed out or starting up may pass: a standby retries those.
            transient = isinstance(exc, (OSError, TimeoutError, asyncpg.CannotConnectNowError))
            error = LeaseUnavailable if transient else LeaseError
            raise error(f"{self.describe()}: cannot connect ({detail})") from None

    async def _connect(self) -> asyncpg.Connection[Any]:
        conn = await self._open(_app_name(self._version, None))
        try:
            pids = [await conn.fetchval("SELECT pg_backend_pid()") for _ in range(3)]
            if _looks_pooled(pids):
                raise LeaseError(
                    f"{self.describe()}: statements ran on different server sessions, so this "
                    "is a transaction-mode connection pooler (e.g. PgBouncer "
                    "pool_mode=transaction) that cannot hold a session advisory lock; "
                    "use the database's direct address for the lease"
                )
            await conn.fetchrow(_SESSION_SQL, *self._session)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._on_terminated)
        return conn

    async def _ensure_conn(self) -> asyncpg.Connection[Any]:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        return self._conn

    def _drop_conn(self) -> None:
        # terminate() closes the socket at once: the server ends the session and frees
        # any lock it holds, which is the safe outcome whenever we are unsure.
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _on_terminated(self, conn: object) -> None:
        if conn is not self._conn:
            return  # we closed it ourselves
        self._conn = None
        if self._held:
            _log.warning("%s: lease lost (connection closed)", self.describe())
            self._lose("connection closed")

    def _lose(self, reason: str) -> None:
        self._drop_conn()
        self._stop_watchdog()
        self._mark_lost(reason)

    # -- acquiring ---------------------------------------------------------------------
    async def _took(self, conn: asyncpg.Connection[Any]) -> None:
        await conn.execute(_SET_APP_SQL, _app_name(self._version, time.time()))
        self._mark_held()
        self._watchdog = asyncio.create_task(self._watch(), name="safe-polling lease check")
        _log.debug("%s: lease acquired", self.describe())

    async def try_acquire(self) -> bool:
        if self._held:
            return True
        async with self._op:
            conn = await self._ensure_conn()
            try:
                if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key):
                    return False
                await self._took(conn)
            except BaseException:
                self._drop_conn()
                raise
        return True

    async def acquire(self) -> None:
        import asyncpg

        while not self._held:
            async with self._op:
                conn = await self._ensure_conn()
                try:
                    # The wait happens in the server's lock queue: no polling, no delay.
                    await conn.execute("SELECT pg_advisory_lock($1)", self._key)
                    await self._took(conn)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    _log.warning(
                        "%s: waiting for the lease failed (%s), reconnecting",
                        self.describe(),
                        type(exc).__name__,
                    )
                    self._drop_conn()
                except BaseException:
                    # Cancelled: the lock may have been granted just now; ending the
                    # session is the only way to be sure nothing stays held.
                    self._drop_conn()
                    raise
                else:
                    return
            await anyio.sleep(0.5)

    # -- holding -----------------------------------------------------------------------
    async def ensure_held(self) -> None:
        self._require_held()
        async with self._op:
            await self._check()

    async def _check(self) -> None:
        conn = self._conn
        reason = "connection closed"
        if conn is not None and self._held:
            try:
                with anyio.fail_after(self._check_timeout):
                    if await conn.fetchval(_CHECK_SQL, *_key_parts(self._key)):
                        return
                reason = "lock not held by this session"
            except TimeoutError:
                reason = f"no answer within {self._check_timeout:g}s"
            except Exception as exc:
                reason = type(exc).__name__
        if self._held:
            _log.warning("%s: lease lost (%s)", self.describe(), reason)
        self._lose(reason)
        raise LeaseLost(f"{self.describe()}: lease lost ({reason})")

    async def _watch(self) -> None:
        with contextlib.suppress(LeaseLost):
            while self._held:
                await anyio.sleep(self._check_interval)
                async with self._op:
                    if self._held:
                        await self._check()

    def _stop_watchdog(self) -> None:
        task, self._watchdog = self._watchdog, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # -- giving up ---------------------------------------------------------------------
    async def release(self) -> None:
        self._stop_watchdog()
        if not self._held:
            return
        self._mark_released()
        conn = self._conn
        if conn is None:
            return
        try:
            with anyio.fail_after(self._check_timeout):
                async with self._op:
                    await conn.execute(_UNLOCK_SQL, self._key, _app_name(self._version, None))
        except Exception as exc:
            # Ending the session frees the lock just as well.
            _log.warning("%s: unlock failed (%s), closing the session", self.describe(), exc)
            self._drop_conn()
            return
        except BaseException:
            self._drop_conn()
            raise
        _log.info("%s: lease released", self.describe())

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.release()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                with anyio.fail_after(self._check_timeout):
                    await conn.close()
            except BaseException:
                conn.terminate()
                raise

    async def holder(self) -> HolderInfo | None:
        conn = await self._open(f"{_APP_PREFIX} probe")
        try:
            row = await conn.fetchrow(_HOLDER_SQL, *_key_parts(self._key))
        finally:
            await conn.close()
        return None if row is None else _parse_holder(row)
