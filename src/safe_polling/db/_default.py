"""The process-wide default store behind the module-level ``*_async`` functions.

They keep the call sites of a bot written against module functions unchanged:
``from safe_polling.db import subtract_user_balance_async``.
"""

from __future__ import annotations

from safe_polling.db._base import LedgerEntry
from safe_polling.db._store import BalanceStore

__all__ = [
    "add_user_balance_async",
    "configure_default_store",
    "get_default_store",
    "get_user_balance_async",
    "ledger",
    "set_default_store",
    "set_user_balance_async",
    "subtract_user_balance_async",
]

_default_store: BalanceStore | None = None


def configure_default_store(store: BalanceStore | None) -> None:
    """Make *store* the one used by the module-level balance functions.

    Call it once at startup, e.g. in ``Application.post_init``; pass :obj:`None` at shutdown
    to forget it (closing the store stays the caller's job).

    Args:
        store (:class:`~safe_polling.db.BalanceStore` | :obj:`None`): The store.

    .. versionadded:: 0.1.0
    """
    global _default_store  # one store per process is the point of this module
    _default_store = store


set_default_store = configure_default_store
"""Alias of :func:`configure_default_store`.

.. versionadded:: 0.1.0
"""


def get_default_store() -> BalanceStore:
    """Return the store set by :func:`configure_default_store`.

    Raises:
        RuntimeError: No store is configured.

    .. versionadded:: 0.1.0
    """
    if _default_store is None:
        raise RuntimeError(
            "no default balance store is configured: at startup (e.g. in "
            "Application.post_init) call safe_polling.db.configure_default_store("
            "await open_balance_store(database_url_from_env()))"
        )
    return _default_store


async def get_user_balance_async(user_id: int) -> int:
    """:meth:`BalanceStore.get_user_balance_async` on the default store.

    Raises:
        RuntimeError: No default store is configured.

    .. versionadded:: 0.1.0
    """
    return await get_default_store().get_user_balance_async(user_id)


async def set_user_balance_async(user_id: int, amount: int, *, reason: str = "set") -> int:
    """:meth:`BalanceStore.set_user_balance_async` on the default store.

    Raises:
        RuntimeError: No default store is configured.

    .. versionadded:: 0.1.0
    """
    return await get_default_store().set_user_balance_async(user_id, amount, reason=reason)


async def add_user_balance_async(
    user_id: int, amount: int, *, reason: str = "add", idempotency_key: str | None = None
) -> int:
    """:meth:`BalanceStore.add_user_balance_async` on the default store.

    Raises:
        RuntimeError: No default store is configured.

    .. versionadded:: 0.1.0
    """
    return await get_default_store().add_user_balance_async(
        user_id, amount, reason=reason, idempotency_key=idempotency_key
    )


async def subtract_user_balance_async(
    user_id: int, amount: int, *, reason: str = "subtract", idempotency_key: str | None = None
) -> int:
    """:meth:`BalanceStore.subtract_user_balance_async` on the default store.

    Raises:
        RuntimeError: No default store is configured.
        InsufficientFunds: The balance does not cover *amount*.

    .. versionadded:: 0.1.0
    """
    return await get_default_store().subtract_user_balance_async(
        user_id, amount, reason=reason, idempotency_key=idempotency_key
    )


async def ledger(user_id: int, *, limit: int = 50) -> list[LedgerEntry]:
    """:meth:`BalanceStore.ledger` on the default store.

    Raises:
        RuntimeError: No default store is configured.

    .. versionadded:: 0.1.0
    """
    return await get_default_store().ledger(user_id, limit=limit)
