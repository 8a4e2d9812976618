"""The ``DATABASE_URL`` check: parse it, then connect (asyncpg or sqlite3) within a timeout.

The URL handling here is deliberately small and private (mask, parse, best-effort password
extraction for scrubbing); ``safe_polling.db`` owns the store itself.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import anyio
import anyio.to_thread

from safe_polling._preflight._report import CheckResult, CheckStatus

DATABASE_URL_ENV = "DATABASE_URL"
_POSTGRES_SCHEMES = ("postgres", "postgresql")
_NAME = "database"


class DatabaseUrlError(ValueError):
    """``DATABASE_URL`` cannot be used; the message holds no password."""


@dataclasses.dataclass(frozen=True)
class DatabaseUrl:
    """A parsed ``DATABASE_URL``: ``masked`` is safe to print, ``url`` is not."""

    kind: Literal["postgres", "sqlite"]
    url: str
    masked: str
    sqlite_path: str = ""


def url_password(url: str) -> str:
    """Best-effort password of ``url``, even a malformed one, so it can be scrubbed."""
    _, sep, rest = url.partition("://")
    if not sep:
        return ""
    netloc = rest.split("/", 1)[0]
    # rpartition: a password may contain an unescaped '@'.
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return ""
    return userinfo.partition(":")[2]


def url_secrets(url: str) -> tuple[str, ...]:
    """The password of ``url`` as written and percent-decoded, for scrubbing output."""
    password = url_password(url)
    return (password, unquote(password)) if password else ()


def parse_database_url(url: str) -> DatabaseUrl:
    """Parse a ``postgres://``, ``postgresql://`` or ``sqlite:///path`` URL.

    Raises:
        DatabaseUrlError: Unknown scheme, bad port, or no path for SQLite.
    """
    url = url.strip()
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise DatabaseUrlError("not a URL (expected postgres://... or sqlite:///path)")
    if scheme == "sqlite":
        return _parse_sqlite(url)
    if "+" in scheme and scheme.split("+")[0] in (*_POSTGRES_SCHEMES, "sqlite"):
        raise DatabaseUrlError(f"driver suffix in scheme '{scheme}': drop the '+...' part")
    if scheme not in _POSTGRES_SCHEMES:
        raise DatabaseUrlError(
            f"unsupported scheme '{scheme}': use postgres://, postgresql:// or sqlite:///path"
        )
    try:
        parts = urlsplit(url)  # raises ValueError for an unclosed "[" (IPv6 host)
    except ValueError:
        raise DatabaseUrlError("malformed host (an IPv6 address needs [...])") from None
    try:
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        raise DatabaseUrlError("the port is not a number between 1 and 65535") from None
    if not parts.hostname:
        raise DatabaseUrlError("no host name")
    from safe_polling.db import mask_database_url  # the store's package: only with a URL

    return DatabaseUrl("postgres", url, mask_database_url(url))


def _parse_sqlite(url: str) -> DatabaseUrl:
    # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db.
    path = url.partition("://")[2]
    if not path.startswith("/") or path == "/":
        raise DatabaseUrlError(
            "SQLite URL needs a path: sqlite:///relative.db or sqlite:////abs.db"
        )
    from safe_polling.db._base import sqlite_path

    return DatabaseUrl("sqlite", url, url, sqlite_path=unquote(sqlite_path(url)))


async def check_database(url: str | None, *, required: bool, timeout: float) -> CheckResult:
    """Check ``DATABASE_URL``: parse, connect within ``timeout``; the password is masked."""
    if not url:
        if required:
            return CheckResult(
                _NAME,
                CheckStatus.FAIL,
                f"{DATABASE_URL_ENV} is not set",
                hint=f"set {DATABASE_URL_ENV} (on Render: fromDatabase connectionString)",
            )
        return CheckResult(_NAME, CheckStatus.SKIP, f"{DATABASE_URL_ENV} not set")
    try:
        parsed = parse_database_url(url)
    except DatabaseUrlError as exc:
        return CheckResult(
            _NAME,
            CheckStatus.FAIL,
            f"malformed {DATABASE_URL_ENV}: {exc}",
            hint="use postgresql://user:password@host:5432/dbname or sqlite:///path/to/file.db",
        )
    if parsed.kind == "sqlite":
        return await anyio.to_thread.run_sync(
            _check_sqlite, parsed, timeout, abandon_on_cancel=True
        )
    return await _check_postgres(parsed, timeout)


async def _check_postgres(parsed: DatabaseUrl, timeout: float) -> CheckResult:
    try:
        import asyncpg
    except ImportError:
        return CheckResult(
            _NAME,
            CheckStatus.FAIL,
            "asyncpg is not installed",
            hint="pip install 'safe-polling[postgres]'",
        )
    where = parsed.masked
    try:
        with anyio.fail_after(timeout + 1):
            conn = await asyncpg.connect(dsn=parsed.url, timeout=timeout)
            try:
                version = await conn.fetchval("SHOW server_version")
            finally:
                await conn.close(timeout=timeout)
    except (TimeoutError, asyncpg.exceptions.ConnectionDoesNotExistError):
        return _pg_fail(f"no answer from {where} within {timeout:g}s", "is the host reachable?")
    except asyncpg.InvalidPasswordError:
        return _pg_fail(f"authentication failed at {where}", "check user and password")
    except asyncpg.InvalidCatalogNameError:
        return _pg_fail(f"database does not exist at {where}", "check the database name")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return _pg_fail(f"cannot connect to {where}: {reason}", "is PostgreSQL running there?")
    return CheckResult(_NAME, CheckStatus.OK, f"PostgreSQL {version} at {where}")


def _pg_fail(detail: str, hint: str) -> CheckResult:
    return CheckResult(_NAME, CheckStatus.FAIL, detail, hint=f"{hint} ({DATABASE_URL_ENV})")


def _check_sqlite(parsed: DatabaseUrl, timeout: float) -> CheckResult:
    if parsed.sqlite_path == ":memory:":
        return CheckResult(
            _NAME,
            CheckStatus.WARN,
            "SQLite in memory: balances are lost on every restart",
            hint="use sqlite:///path/to/file.db or PostgreSQL",
        )
    path = Path(parsed.sqlite_path).expanduser().absolute()
    problem = _sqlite_dir_problem(path.parent)
    if problem:
        return CheckResult(
            _NAME,
            CheckStatus.FAIL,
            f"SQLite {path}: {problem}",
            hint="SQLite writes a journal beside the file: the directory must be writable",
        )
    if not path.exists():
        return CheckResult(_NAME, CheckStatus.OK, f"SQLite {path} (will be created)")
    import sqlite3  # only with a SQLite URL: start-up

    try:
        # mode=rw: open an existing file only, never create one as a side effect.
        uri = f"file:{quote(str(path))}?mode=rw"
        with sqlite3.connect(uri, uri=True, timeout=timeout) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.close()
    except sqlite3.Error as exc:
        return CheckResult(
            _NAME,
            CheckStatus.FAIL,
            f"SQLite {path}: {exc}",
            hint="point DATABASE_URL at a writable SQLite file",
        )
    return CheckResult(_NAME, CheckStatus.OK, f"SQLite {path}")


def _sqlite_dir_problem(directory: Path) -> str | None:
    if not directory.exists():
        return f"directory {directory} does not exist"
    if not directory.is_dir():
        return f"{directory} is not a directory"
    try:
        # A real write, not os.access: root and read-only mounts make os.access lie.
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return f"directory {directory} is not writable ({exc.strerror})"
    return None
