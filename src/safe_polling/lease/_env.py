"""Choose and build a lease from environment variables."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from safe_polling._redaction import install_redaction, redact
from safe_polling.lease._base import LeaseError, PollingLease, bot_id_from_token

__all__ = ["LEASE_KINDS", "lease_from_env"]

LEASE_KINDS = ("postgres", "redis", "file", "none")
"""The values accepted in ``SAFE_POLLING_LEASE``.

.. versionadded:: 0.1.0
"""

_PG_SCHEMES = ("postgres://", "postgresql://")


def _first(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return ""


def _plain(env: Mapping[str, str], name: str) -> str:
    """The value of a variable shown in logs; a LeaseError if it holds a secret or a newline.

    A lease name or lock file path appears in every lease log line; one that holds a
    token or a URL password (a value pasted into the wrong variable) is refused
    without being echoed.
    """
    value = _first(env, name)
    if redact(value) != value:
        raise LeaseError(f"{name} looks like it holds a secret (a bot token or URL password)")
    if not value.isprintable():  # a newline in it would split every lease log line
        raise LeaseError(f"{name} holds a control character (a newline?): use one plain line")
    return value


def lease_from_env(
    *, token: str | int, env: Mapping[str, str] | None = None
) -> PollingLease | None:
    """Build the lease that the environment asks for.

    ``SAFE_POLLING_LEASE`` selects the backend:

    * ``postgres``: :class:`PostgresLease` on ``SAFE_POLLING_DATABASE_URL`` or
      ``DATABASE_URL``;
    * ``redis``: :class:`RedisLease` on ``SAFE_POLLING_REDIS_URL`` or ``REDIS_URL``;
    * ``file``: :class:`FileLease` on ``SAFE_POLLING_LEASE_FILE``, by default
      ``<tmp>/safe-polling-<bot_id>-<name>.lock``;
    * ``none``: no lease (returns :obj:`None`);
    * unset or empty: ``postgres`` when ``DATABASE_URL`` is a ``postgres://`` or
      ``postgresql://`` URL, else ``file``.

    ``SAFE_POLLING_LEASE_NAME`` sets the lease name (default ``"default"``).

    Args:
        token: The bot token or bot id; only the bot id (before ``':'``) is used.
        env: The variables to read; default :data:`os.environ`.

    Returns:
        The lease (not yet acquired), or :obj:`None` for ``none``.

    Raises:
        LeaseError: An unknown ``SAFE_POLLING_LEASE`` value (the message lists the allowed
            ones) or a missing URL for the chosen backend.

    Example:
        >>> lease = lease_from_env(token="123456:secret", env={"SAFE_POLLING_LEASE": "file"})
        >>> lease.describe()  # doctest: +ELLIPSIS
        'file lease on .../safe-polling-123456-default.lock (key 123456:default)'

    .. versionadded:: 0.1.0
    """
    env = os.environ if env is None else env
    bot_id = bot_id_from_token(token)
    name = _plain(env, "SAFE_POLLING_LEASE_NAME") or "default"
    kind = _first(env, "SAFE_POLLING_LEASE").lower()
    database_url = _first(env, "SAFE_POLLING_DATABASE_URL", "DATABASE_URL")
    redis_url = _first(env, "SAFE_POLLING_REDIS_URL", "REDIS_URL")
    install_redaction(database_url, redis_url)  # their passwords, in every form
    if kind == "postgresql":
        kind = "postgres"
    if not kind:
        kind = "postgres" if database_url.startswith(_PG_SCHEMES) else "file"
    if kind == "none":
        return None
    if kind == "postgres":
        if not database_url.startswith(_PG_SCHEMES):
            raise LeaseError(
                "SAFE_POLLING_LEASE=postgres needs DATABASE_URL (or SAFE_POLLING_DATABASE_URL) "
                "set to a postgres:// or postgresql:// URL"
            )
        from safe_polling.lease._postgres import PostgresLease  # only its backend: start-up

        return PostgresLease(database_url, bot_id=bot_id, name=name)
    if kind == "redis":
        if not redis_url:
            raise LeaseError("SAFE_POLLING_LEASE=redis needs SAFE_POLLING_REDIS_URL or REDIS_URL")
        from safe_polling.lease._redis import RedisLease

        return RedisLease(redis_url, bot_id=bot_id, name=name)
    if kind == "file":
        default = Path(tempfile.gettempdir()) / f"safe-polling-{bot_id}-{name}.lock"
        path = _plain(env, "SAFE_POLLING_LEASE_FILE") or str(default)
        from safe_polling.lease._file import FileLease

        return FileLease(path, bot_id=bot_id, name=name)
    # Do not echo the value back at length: it is a config value, but keep logs tidy.
    raise LeaseError(
        f"SAFE_POLLING_LEASE={kind[:40]!r} is not valid; use one of: {', '.join(LEASE_KINDS)}"
    )
