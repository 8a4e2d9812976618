"""``open_balance_store``: pick the backend from the URL, connect, migrate."""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from safe_polling._redaction import install_redaction
from safe_polling.db._base import database_url_from_env, mask_database_url
from safe_polling.db._store import BalanceStore

__all__ = ["open_balance_store"]


class _OpeningStore:
    """What :func:`open_balance_store` returns: await it, or use it with ``async with``."""

    def __init__(self, url: str, connect_timeout: float, max_connections: int) -> None:
        # Its password must not reach a driver's error message in a log line.
        install_redaction(url)
        self._url = url
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._store: BalanceStore | None = None

    async def _open(self) -> BalanceStore:
        scheme = urlsplit(self._url).scheme.lower()
        store: Any
        if scheme == "sqlite":
            from safe_polling.db._sqlite import SQLiteBalanceStore

            store = SQLiteBalanceStore(self._url, busy_timeout=self._connect_timeout)
        elif scheme in ("postgres", "postgresql"):
            from safe_polling.db._postgres import PostgresBalanceStore

            store = PostgresBalanceStore(
                self._url,
                connect_timeout=self._connect_timeout,
                max_connections=self._max_connections,
            )
        else:
            raise ValueError(
                f"unsupported database URL {mask_database_url(self._url)!r}: expected "
                "sqlite:///path, postgres:// or postgresql://"
            )
        await store._open()
        opened: BalanceStore = store
        return opened

    def __await__(self) -> Generator[Any, None, BalanceStore]:
        return self._open().__await__()

    async def __aenter__(self) -> BalanceStore:
        self._store = await self._open()
        return self._store

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._store is not None:
            await self._store.aclose()


def open_balance_store(
    url: str | None = None, *, connect_timeout: float = 5.0, max_connections: int = 10
) -> _OpeningStore:
    """Connect to the database at *url* and create or migrate the balance tables.

    Use it as ``store = await open_balance_store(url)`` (then ``await store.aclose()``) or
    as ``async with open_balance_store(url) as store:``, which closes it on exit. Opening
    is idempotent and safe when several processes open the same database at once.

    Args:
        url (:obj:`str`, optional): ``sqlite:///relative/path``, ``sqlite:////abs/path``,
            ``sqlite:///:memory:``, ``postgres://...`` or ``postgresql://...``. Defaults to
            :func:`~safe_polling.db.database_url_from_env` (``DATABASE_URL`` or the embedded
            SQLite file).
        connect_timeout (:obj:`float`, optional): Seconds to wait for the first connection
            (PostgreSQL) or for another process's write lock (SQLite). Defaults to 5.
        max_connections (:obj:`int`, optional): PostgreSQL pool size. Defaults to 10.

    Returns:
        An awaitable async context manager giving a :class:`~safe_polling.db.BalanceStore`.

    Raises:
        DatabaseUnavailable: The database is unreachable, refused the login or does not
            exist; the message names host, port and database, never the password.
        ValueError: The URL scheme is not supported.
        ImportError: A PostgreSQL URL without asyncpg installed.

    Example:
        .. code:: python

            async def post_init(app: Application) -> None:
                store = await open_balance_store(database_url_from_env())
                configure_default_store(store)

    .. versionadded:: 0.1.0
    """
    return _OpeningStore(url or database_url_from_env(), connect_timeout, max_connections)
