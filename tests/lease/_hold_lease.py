"""Take a lease and hold it until killed: ``python _hold_lease.py '<json spec>'``.

The spec names the backend (``kind``: postgres, redis or file), its ``target`` (DSN, URL
or path) and the lease's keyword arguments. Prints ``held`` once the lease is taken.
Used by the lease tests and by ``benchmarks/lease_bench.py``.
"""

import asyncio
import json
import sys

from safe_polling.lease import FileLease, PostgresLease, RedisLease

KINDS = {"postgres": PostgresLease, "redis": RedisLease, "file": FileLease}


async def main() -> None:
    spec = json.loads(sys.argv[1])
    lease = KINDS[spec.pop("kind")](spec.pop("target"), **spec)
    await lease.acquire()
    print("held", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main())
