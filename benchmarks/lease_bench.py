"""Lease takeover latency of each backend in isolation (no polling), against a TTL-only lease.

Two scenarios, each timed on one clock in this process:

* handover: an in-process holder calls ``release()``; time until a standby blocked in
  ``acquire()`` (on its own connection) holds the lease;
* crash: a child process holds the lease and is ``kill -9``'ed; time until the standby here
  holds it.

The baseline, measured in the same run, is a TTL-only lease at Kubernetes client-go
defaults (15 s lease, renewed every 2 s, standbys retry every 2 s, release clears the
lease), simulated on the same Redis server.

Usage::

    .venv/bin/python benchmarks/lease_bench.py [--trials 20] [--quick]

PostgreSQL and Redis default to the local test servers (``SAFE_POLLING_TEST_PG``,
``SAFE_POLLING_TEST_REDIS``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from safe_polling.lease import FileLease, PollingLease, PostgresLease, RedisLease

PG = os.environ.get("SAFE_POLLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("SAFE_POLLING_TEST_REDIS", "redis://127.0.0.1:6379/0")
BOT = 555000111

# The child (shared with the lease tests) takes a lease from a JSON spec and holds it.
HOLD_LEASE = str(Path(__file__).resolve().parents[1] / "tests" / "lease" / "_hold_lease.py")

Factory = Callable[[], PollingLease]


def _factory(kind: str, name: str, **options: object) -> tuple[Factory, dict[str, object]]:
    target = {"postgres": PG, "redis": REDIS}.get(kind) or os.path.join(
        tempfile.gettempdir(), f"safe-polling-bench-{name}.lock"
    )
    classes: dict[str, type[PollingLease]] = {
        "postgres": PostgresLease,
        "redis": RedisLease,
        "file": FileLease,
    }
    spec: dict[str, object] = {"kind": kind, "target": target, "bot_id": BOT, "name": name}
    spec.update(options)

    def make() -> PollingLease:
        return classes[kind](target, bot_id=BOT, name=name, **options)  # type: ignore[arg-type]

    return make, spec


async def _wait_blocked(standby: Awaitable[None]) -> asyncio.Task[None]:
    task = asyncio.ensure_future(standby)
    await asyncio.sleep(0.2)  # let the standby reach its wait
    assert not task.done()
    return task


async def handover(make: Factory) -> float:
    holder, standby = make(), make()
    try:
        await holder.acquire()
        task = await _wait_blocked(standby.acquire())
        start = time.perf_counter()
        await holder.release()
        await asyncio.wait_for(task, 60)
        return time.perf_counter() - start
    finally:
        await holder.aclose()
        await standby.aclose()


async def crash(make: Factory, spec: dict[str, object]) -> float:
    child = subprocess.Popen(
        [sys.executable, HOLD_LEASE, json.dumps(spec)], stdout=subprocess.PIPE, text=True
    )
    standby = make()
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30)
        assert line.strip() == "held"
        task = await _wait_blocked(standby.acquire())
        start = time.perf_counter()
        child.kill()
        await asyncio.wait_for(task, 60)
        return time.perf_counter() - start
    finally:
        child.kill()
        child.communicate(timeout=10)
        await standby.aclose()


class TtlOnlyLease:
    """Kubernetes-style lease: expiry plus periodic retry, no release notification."""

    LEASE, RETRY = 15.0, 2.0

    def __init__(self, client: Redis, key: str) -> None:
        self.client, self.key, self.token = client, key, uuid.uuid4().hex
        self.renewer: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        while not await self.client.set(self.key, self.token, nx=True, px=int(self.LEASE * 1000)):
            await asyncio.sleep(self.RETRY)

    async def release(self) -> None:
        if self.renewer:
            self.renewer.cancel()
        if await self.client.get(self.key) == self.token.encode():
            await self.client.delete(self.key)


async def ttl_only(scenario: str) -> float:
    client = Redis.from_url(REDIS)
    key = f"safe-polling:bench:k8s:{uuid.uuid4().hex}"
    holder, standby = TtlOnlyLease(client, key), TtlOnlyLease(client, key)
    try:
        await holder.acquire()
        task = await _wait_blocked(standby.acquire())
        # Unsynchronised instances: the event falls anywhere in the standby's retry period.
        await asyncio.sleep(TtlOnlyLease.RETRY * (uuid.uuid4().int % 1000) / 1000)
        start = time.perf_counter()
        if scenario == "handover":
            await holder.release()
        else:
            # crash: the holder stops renewing; its last renewal was 0..RETRY s ago.
            since_renewal = TtlOnlyLease.RETRY * (uuid.uuid4().int % 1000) / 1000
            ttl_left = TtlOnlyLease.LEASE - since_renewal
            await client.set(key, holder.token, px=int(ttl_left * 1000))
        await asyncio.wait_for(task, 60)
        return time.perf_counter() - start
    finally:
        await client.delete(key)
        await client.aclose()


def _summary(label: str, samples: list[float], baseline: float | None) -> str:
    med = statistics.median(samples)
    p90 = sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]
    ratio = f"  {baseline / med:8.0f}x faster" if baseline else ""
    return (
        f"{label:<34} n={len(samples):<3} median={med * 1000:9.1f} ms  p90={p90 * 1000:9.1f} ms"
        f"  max={max(samples) * 1000:9.1f} ms{ratio}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 trials each, skip slow TTL runs")
    args = parser.parse_args()
    n = 3 if args.quick else args.trials
    slow_n = 1 if args.quick else max(3, n // 4)

    results: list[tuple[str, list[float], str]] = []
    baseline = {
        "handover": [await ttl_only("handover") for _ in range(n if not args.quick else 1)],
        "crash": [await ttl_only("crash") for _ in range(slow_n)],
    }
    results.append(("k8s-style TTL-only lease: handover", baseline["handover"], ""))
    results.append(("k8s-style TTL-only lease: crash", baseline["crash"], ""))
    for kind, options in (("postgres", {}), ("file", {}), ("redis", {"ttl": 10.0})):
        make, spec = _factory(kind, uuid.uuid4().hex[:10], **options)
        results.append((f"{kind}: handover", [await handover(make) for _ in range(n)], "handover"))
        trials = slow_n if kind == "redis" else n
        results.append(
            (f"{kind}: crash", [await crash(make, spec) for _ in range(trials)], "crash")
        )
    if not args.quick:
        make, spec = _factory("redis", uuid.uuid4().hex[:10], ttl=2.0)
        results.append(
            ("redis ttl=2s: crash", [await crash(make, spec) for _ in range(n)], "crash")
        )

    for label, samples, scenario in results:
        base = statistics.median(baseline[scenario]) if scenario else None
        print(_summary(label, samples, base))


if __name__ == "__main__":
    asyncio.run(main())
