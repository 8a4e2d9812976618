"""Single-poller leases: exactly one instance polls a bot token, across processes and hosts.

A lease rests on an existing locking engine, never on a home-made protocol:

* :class:`PostgresLease`: a session advisory lock on a dedicated connection (across hosts);
* :class:`RedisLease`: a ``SET NX PX`` key renewed in the background (across hosts);
* :class:`FileLease`: an ``flock`` on a file (one host or shared volume).

:func:`lease_from_env` picks one from ``SAFE_POLLING_LEASE`` and friends.

.. versionadded:: 0.1.0
"""

from typing import TYPE_CHECKING

from safe_polling._lazy import lazy_getattr
from safe_polling.lease._base import (
    HolderInfo,
    LeaseError,
    LeaseLost,
    LeaseUnavailable,
    PollingLease,
    bot_id_from_token,
)
from safe_polling.lease._env import LEASE_KINDS, lease_from_env

if TYPE_CHECKING:
    from safe_polling.lease._file import FileLease
    from safe_polling.lease._postgres import PostgresLease, advisory_key
    from safe_polling.lease._redis import RedisLease

# A bot imports only the backend it uses (lease_from_env does the same).
__getattr__ = lazy_getattr(
    __name__,
    {
        "FileLease": "._file",
        "PostgresLease": "._postgres",
        "advisory_key": "._postgres",
        "RedisLease": "._redis",
    },
)

__all__ = [
    "LEASE_KINDS",
    "FileLease",
    "HolderInfo",
    "LeaseError",
    "LeaseLost",
    "LeaseUnavailable",
    "PollingLease",
    "PostgresLease",
    "RedisLease",
    "advisory_key",
    "bot_id_from_token",
    "lease_from_env",
]
