"""Choose and build an update queue from environment variables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from safe_polling.lease._base import bot_id_from_token
from safe_polling.queue._base import QueueError, UpdateQueue

__all__ = ["QUEUE_KINDS", "queue_from_env"]


def _redis(value: str, bot_id: int, options: dict[str, Any]) -> UpdateQueue:
    from safe_polling.queue._redis import RedisQueue  # only the backend in use: start-up

    return RedisQueue(value, bot_id=bot_id, **options)


def _options(env: Mapping[str, str]) -> dict[str, Any]:
    """The :class:`UpdateQueue` keywords set in *env*."""
    options: dict[str, Any] = {}
    for name, keyword in _INT_OPTIONS.items():
        raw = env.get(name, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise QueueError(f"{name} must be a positive whole number, not {raw[:20]!r}")
            options[keyword] = int(raw)
    return options


def _memory(_: str, __: int, options: dict[str, Any]) -> UpdateQueue:
    options.pop("name", None)  # one process: nothing to separate
    from safe_polling.queue._memory import MemoryQueue

    return MemoryQueue(**options)


# The value's scheme (before "://", or the whole word) -> the queue it builds.
_KINDS: dict[str, Callable[[str, int, dict[str, Any]], UpdateQueue]] = {
    "redis": _redis,
    "rediss": _redis,
    "unix": _redis,
    "memory": _memory,
}

QUEUE_KINDS = (*_KINDS, "none")
"""The kinds accepted in ``SAFE_POLLING_QUEUE``: a ``redis://`` URL (or ``rediss://``,
``unix://``), ``memory`` (one process) or ``none``.

.. versionadded:: 0.1.0
"""

# Integer options: environment variable -> UpdateQueue keyword.
_INT_OPTIONS = {
    "SAFE_POLLING_QUEUE_PARTITIONS": "partitions",
    "SAFE_POLLING_QUEUE_MAX_BACKLOG": "max_backlog",
    "SAFE_POLLING_QUEUE_MAX_DELIVERIES": "max_deliveries",
}


def queue_from_env(
    *, token: str | int, env: Mapping[str, str] | None = None
) -> UpdateQueue | None:
    """Build the update queue that ``SAFE_POLLING_QUEUE`` asks for.

    Unset, empty or ``none``: no queue (one process polls and handles, as
    without scale-out). ``SAFE_POLLING_QUEUE_PARTITIONS``,
    ``SAFE_POLLING_QUEUE_MAX_BACKLOG`` and ``SAFE_POLLING_QUEUE_MAX_DELIVERIES``
    override the defaults of :class:`UpdateQueue`; ``SAFE_POLLING_QUEUE_NAME``
    (default ``"default"``) separates several queues of one bot on one Redis.

    Args:
        token: The bot token or id; only the id (before ``':'``) is used.
        env: The variables to read; default :data:`os.environ`.

    Returns:
        The queue (not started), or :obj:`None`.

    Raises:
        QueueError: An unknown kind or a bad number; the message never echoes a URL.

    Example:
        >>> queue_from_env(token="123456:secret", env={"SAFE_POLLING_QUEUE": "memory"}).describe()
        'in-process queue (16 partitions)'
        >>> queue_from_env(token="123456:secret", env={}) is None
        True

    .. versionadded:: 0.1.0
    """
    env = os.environ if env is None else env
    value = env.get("SAFE_POLLING_QUEUE", "").strip()
    if not value or value.lower() == "none":
        return None
    kind = value.split("://", 1)[0].lower()
    factory = _KINDS.get(kind)
    if factory is None:
        # Never echo the value: it may be a URL with a password.
        raise QueueError(
            "SAFE_POLLING_QUEUE must be a redis:// or rediss:// URL, 'memory' or 'none'"
        )
    options = _options(env)
    options["name"] = env.get("SAFE_POLLING_QUEUE_NAME", "").strip() or "default"
    return factory(value, bot_id_from_token(token), options)
