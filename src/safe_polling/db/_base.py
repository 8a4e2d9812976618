"""Errors, value checks, the ledger entry and database URL helpers shared by all stores."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_DATABASE_URL",
    "MAX_KEY_LENGTH",
    "MAX_REASON_LENGTH",
    "BalanceOverflow",
    "BalanceStoreError",
    "DatabaseUnavailable",
    "IdempotencyConflict",
    "InsufficientFunds",
    "IntegrityError",
    "LedgerEntry",
    "QueryError",
    "database_url_from_env",
    "mask_database_url",
]

DEFAULT_DATABASE_URL = "sqlite:///safe_polling.sqlite3"
"""The embedded database used when ``DATABASE_URL`` is not set.

.. versionadded:: 0.1.0
"""

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)

MAX_KEY_LENGTH = 200
"""The longest ``idempotency_key`` accepted, in characters.

.. versionadded:: 0.1.0
"""

MAX_REASON_LENGTH = 1000
"""The longest ledger ``reason`` accepted, in characters.

.. versionadded:: 0.1.0
"""


class BalanceStoreError(Exception):
    """Base class of every error raised by :mod:`safe_polling.db`.

    .. versionadded:: 0.1.0
    """


class DatabaseUnavailable(BalanceStoreError):
    """The database cannot be reached, refused the login, does not exist or went away.

    Raised by :func:`~safe_polling.db.open_balance_store` when the first connection fails
    and by a single call whose connection was lost. The message names the target with the
    password masked; the store recovers by itself once the database is back.

    .. versionadded:: 0.1.0
    """


class QueryError(BalanceStoreError):
    """A statement was rejected by the database (syntax, missing table, bad type, ...).

    The driver's exception is kept as ``__cause__``.

    .. versionadded:: 0.1.0
    """


class IntegrityError(QueryError):
    """A statement violated a constraint (unique, check, foreign key, not null).

    .. versionadded:: 0.1.0
    """


class InsufficientFunds(BalanceStoreError):
    """A subtraction would have made the balance negative; nothing was changed.

    Args:
        user_id (:obj:`int`): The user whose balance was too low.
        balance (:obj:`int`): The balance at the time of the attempt.
        needed (:obj:`int`): The amount that was asked for.

    Attributes:
        user_id (:obj:`int`): The user whose balance was too low.
        balance (:obj:`int`): The balance at the time of the attempt.
        needed (:obj:`int`): The amount that was asked for.

    .. versionadded:: 0.1.0
    """

    def __init__(self, user_id: int, balance: int, needed: int) -> None:
        super().__init__(
            f"insufficient funds for user {user_id}: balance {balance}, needed {needed}"
        )
        self.user_id = user_id
        self.balance = balance
        self.needed = needed


class BalanceOverflow(BalanceStoreError, ValueError):
    """A credit would take the balance past the signed 64-bit maximum; nothing was changed.

    Raised the same way by every backend (SQLite would otherwise turn the sum into an
    inexact float, PostgreSQL would refuse it with its own error).

    .. versionadded:: 0.1.0
    """


class IdempotencyConflict(BalanceStoreError, ValueError):
    """An idempotency key was replayed for a different user or amount.

    A replay must repeat the original request exactly; anything else is a bug in the
    caller (two operations sharing one key), so it is refused instead of silently
    returning the first result.

    .. versionadded:: 0.1.0
    """


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recorded balance change.

    Attributes:
        user_id (:obj:`int`): The user whose balance changed.
        delta (:obj:`int`): The signed change (negative for a subtraction).
        balance_after (:obj:`int`): The balance right after this change.
        reason (:obj:`str`): Free text given by the caller.
        idempotency_key (:obj:`str` | :obj:`None`): The key the change was made with.
        created_at (:class:`datetime.datetime`): When the change was committed (UTC).

    .. versionadded:: 0.1.0
    """

    user_id: int
    delta: int
    balance_after: int
    reason: str
    idempotency_key: str | None
    created_at: datetime


def check_user_id(user_id: object) -> int:
    """Return *user_id* if it is a signed 64-bit :obj:`int` (not a :obj:`bool`)."""
    if type(user_id) is not int:  # bool and int subclasses are refused on purpose
        raise ValueError(f"user_id must be an int, got {user_id!r} ({type(user_id).__name__})")
    if not _INT64_MIN <= user_id <= _INT64_MAX:
        raise ValueError(f"user_id must fit in a signed 64-bit integer, got {user_id!r}")
    return user_id


def check_amount(amount: object, *, allow_zero: bool = False) -> int:
    """Return *amount* if it is a positive :obj:`int` of credits (zero if *allow_zero*)."""
    if type(amount) is not int:
        hint = (
            " (money is counted in integer credits)" if isinstance(amount, float | Decimal) else ""
        )
        raise ValueError(f"amount must be an int, got {amount!r} ({type(amount).__name__}){hint}")
    if amount < 0 or (amount == 0 and not allow_zero):
        wanted = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"amount must be {wanted} int, got {amount!r}")
    if amount > _INT64_MAX:
        raise ValueError(f"amount must fit in a signed 64-bit integer, got {amount!r}")
    return amount


def _check_text(name: str, value: object, max_length: int, *, allow_empty: bool) -> str:
    """Return *value* if every backend can store it as is: a str, not too long, clean text.

    PostgreSQL refuses NUL characters in text and both drivers refuse lone surrogates
    (they cannot be encoded as UTF-8), each with its own error and only once the
    transaction is under way; SQLite would store NUL. Checking here gives one
    ``ValueError`` on every backend, before any statement runs.
    """
    shown = repr(value)[:60]  # never echo a huge value back in full
    wanted = f"a {'' if allow_empty else 'non-empty '}str of at most {max_length} characters"
    if not isinstance(value, str) or len(value) > max_length or not (value or allow_empty):
        raise ValueError(f"{name} must be {wanted}, got {shown}")
    if "\x00" in value:
        raise ValueError(f"{name} must not contain NUL characters, got {shown}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be valid text (no lone surrogates), got {shown}") from None
    return value


def check_reason(reason: object) -> str:
    """Return *reason* if it is a :obj:`str` every backend stores as is (see ``_check_text``)."""
    return _check_text("reason", reason, MAX_REASON_LENGTH, allow_empty=True)


def check_key(key: object) -> str | None:
    """Return *key* if it is :obj:`None` or a non-empty :obj:`str` of sane length."""
    if key is None:
        return None
    return _check_text("idempotency_key", key, MAX_KEY_LENGTH, allow_empty=False)


def mask_database_url(url: str) -> str:
    """Return *url* with its password replaced by ``***``, safe to log.

    Args:
        url (:obj:`str`): A database URL such as ``postgresql://user:pw@host:5432/db``.

    Returns:
        :obj:`str`: The same URL with the password masked; a URL that cannot be parsed is
        reduced to its scheme so that nothing secret can leak.

    Example:
        >>> mask_database_url("postgres://bot:hunter2@db.internal:5432/bot")
        'postgres://bot:***@db.internal:5432/bot'

    .. versionadded:: 0.1.0
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return url.split(":", 1)[0] + "://***" if ":" in url else "***"
    query = _mask_query(parts.query)
    if "@" not in parts.netloc:
        # Nothing in the netloc to hide; rebuild only if the query had a password, since
        # urlunsplit would turn sqlite:////abs/path into sqlite://abs/path.
        return url if query == parts.query else urlunsplit(parts._replace(query=query))
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hostinfo}" if ":" in userinfo else f"{user}@{hostinfo}"
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _mask_query(query: str) -> str:
    # libpq also accepts ?password=... in the query string.
    pairs = [p.split("=", 1) for p in query.split("&")] if query else []
    return "&".join(
        f"{p[0]}=***" if p[0].lower() == "password" and len(p) == 2 else "=".join(p) for p in pairs
    )


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """Return ``DATABASE_URL`` from the environment, or :data:`DEFAULT_DATABASE_URL`.

    Args:
        environ (Mapping[:obj:`str`, :obj:`str`], optional): The mapping to read instead of
            :data:`os.environ`.

    Returns:
        :obj:`str`: The configured URL (surrounding whitespace stripped); the embedded SQLite
        file ``safe_polling.sqlite3`` in the working directory when unset or empty.

    .. versionadded:: 0.1.0
    """
    env = os.environ if environ is None else environ
    return env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL


def describe_target(url: str) -> str:
    """Return ``host:port/db`` (or the SQLite path) for error messages; never the password."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return f"sqlite file {sqlite_path(url)!r}"
    try:
        port = parts.port or 5432
    except ValueError:
        port = 5432
    host = parts.hostname or "localhost"
    database = parts.path.lstrip("/") or parts.username or "postgres"
    return f"PostgreSQL {host}:{port}/{database}"


def sqlite_path(url: str) -> str:
    """Return the file path of a ``sqlite:///path`` URL (``:memory:`` kept as is).

    ``sqlite:///data/x.db`` is relative to the working directory and
    ``sqlite:////var/data/x.db`` is absolute, as in SQLAlchemy.
    """
    if not url.startswith("sqlite:///"):
        raise ValueError(
            f"a SQLite URL must start with 'sqlite:///', got {mask_database_url(url)!r}"
        )
    path = url[len("sqlite:///") :].split("?", 1)[0]
    if not path:
        raise ValueError("the SQLite URL names no file (use sqlite:///:memory: for memory)")
    return path
