"""Async user balances that never block the event loop, on SQLite or PostgreSQL.

Open a store once, then await its methods in handlers::

    store = await open_balance_store(database_url_from_env())
    configure_default_store(store)            # for the module-level functions
    await subtract_user_balance_async(user_id, 10, reason="generation",
                                      idempotency_key=f"gen:{job_id}")

Balances are integer credits; every change is atomic and written to a ledger, and an
``idempotency_key`` makes a change happen at most once. ``sqlite:///`` runs sqlite3 on a
worker thread; ``postgres://`` uses an asyncpg pool (``pip install 'safe-polling[postgres]'``).
The blocking twins (``get_user_balance`` ...) are for scripts and refuse to run inside an
event loop; :func:`to_async` wraps a legacy blocking DB function for handlers.

.. versionadded:: 0.1.0
"""

from safe_polling.db._adapters import DEFAULT_TO_ASYNC_CAPACITY, to_async
from safe_polling.db._base import (
    DEFAULT_DATABASE_URL,
    MAX_KEY_LENGTH,
    MAX_REASON_LENGTH,
    BalanceOverflow,
    BalanceStoreError,
    DatabaseUnavailable,
    IdempotencyConflict,
    InsufficientFunds,
    IntegrityError,
    LedgerEntry,
    QueryError,
    database_url_from_env,
    mask_database_url,
)
from safe_polling.db._default import (
    add_user_balance_async,
    configure_default_store,
    get_default_store,
    get_user_balance_async,
    ledger,
    set_default_store,
    set_user_balance_async,
    subtract_user_balance_async,
)
from safe_polling.db._open import open_balance_store
from safe_polling.db._store import BalanceStore, Row, Transaction
from safe_polling.db._sync import (
    add_user_balance,
    get_user_balance,
    set_user_balance,
    subtract_user_balance,
)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_TO_ASYNC_CAPACITY",
    "MAX_KEY_LENGTH",
    "MAX_REASON_LENGTH",
    "BalanceOverflow",
    "BalanceStore",
    "BalanceStoreError",
    "DatabaseUnavailable",
    "IdempotencyConflict",
    "InsufficientFunds",
    "IntegrityError",
    "LedgerEntry",
    "QueryError",
    "Row",
    "Transaction",
    "add_user_balance",
    "add_user_balance_async",
    "configure_default_store",
    "database_url_from_env",
    "get_default_store",
    "get_user_balance",
    "get_user_balance_async",
    "ledger",
    "mask_database_url",
    "open_balance_store",
    "set_default_store",
    "set_user_balance",
    "set_user_balance_async",
    "subtract_user_balance",
    "subtract_user_balance_async",
    "to_async",
]
