"""Blocking twins of the balance functions, for scripts and admin tools only.

Each call opens the database, does one operation and closes it, on its own event loop.
They refuse to run inside a running event loop: there they would stall every other
handler, which is exactly the bug the async functions exist to fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from safe_polling.db._open import open_balance_store
from safe_polling.db._store import BalanceStore

__all__ = ["add_user_balance", "get_user_balance", "set_user_balance", "subtract_user_balance"]

T = TypeVar("T")


def _run(name: str, url: str | None, op: Callable[[BalanceStore], Awaitable[T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            f"{name}() blocks and must not run inside an event loop (it would stall every "
            f"handler): use 'await {name}_async(...)' there; {name}() is for scripts"
        )

    async def once() -> T:
        async with open_balance_store(url) as store:
            return await op(store)

    return asyncio.run(once())


def get_user_balance(user_id: int, *, url: str | None = None) -> int:
    """Blocking :meth:`~safe_polling.db.BalanceStore.get_user_balance_async` for scripts.

    Not for handlers: inside a running event loop it raises instead of blocking.

    Args:
        user_id (:obj:`int`): A Telegram user id.
        url (:obj:`str`, optional): The database; defaults to ``DATABASE_URL``.

    Returns:
        :obj:`int`: The balance.

    Raises:
        RuntimeError: Called inside a running event loop.

    .. versionadded:: 0.1.0
    """
    return _run("get_user_balance", url, lambda s: s.get_user_balance_async(user_id))


def set_user_balance(
    user_id: int, amount: int, *, reason: str = "set", url: str | None = None
) -> int:
    """Blocking :meth:`~safe_polling.db.BalanceStore.set_user_balance_async` for scripts.

    Not for handlers: inside a running event loop it raises instead of blocking.

    Raises:
        RuntimeError: Called inside a running event loop.

    .. versionadded:: 0.1.0
    """
    return _run(
        "set_user_balance", url, lambda s: s.set_user_balance_async(user_id, amount, reason=reason)
    )


def add_user_balance(
    user_id: int,
    amount: int,
    *,
    reason: str = "add",
    idempotency_key: str | None = None,
    url: str | None = None,
) -> int:
    """Blocking :meth:`~safe_polling.db.BalanceStore.add_user_balance_async` for scripts.

    Not for handlers: inside a running event loop it raises instead of blocking.

    Raises:
        RuntimeError: Called inside a running event loop.

    .. versionadded:: 0.1.0
    """
    return _run(
        "add_user_balance",
        url,
        lambda s: s.add_user_balance_async(
            user_id, amount, reason=reason, idempotency_key=idempotency_key
        ),
    )


def subtract_user_balance(
    user_id: int,
    amount: int,
    *,
    reason: str = "subtract",
    idempotency_key: str | None = None,
    url: str | None = None,
) -> int:
    """Blocking :meth:`~safe_polling.db.BalanceStore.subtract_user_balance_async` for scripts.

    Not for handlers: inside a running event loop it raises instead of blocking.

    Raises:
        RuntimeError: Called inside a running event loop.
        InsufficientFunds: The balance does not cover *amount*.

    .. versionadded:: 0.1.0
    """
    return _run(
        "subtract_user_balance",
        url,
        lambda s: s.subtract_user_balance_async(
            user_id, amount, reason=reason, idempotency_key=idempotency_key
        ),
    )
