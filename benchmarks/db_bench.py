"""Balance store benchmarks: throughput against raw asyncpg and pgbench, and event-loop lag.

Run: ``.venv/bin/python benchmarks/db_bench.py`` (PostgreSQL at ``SAFE_POLLING_TEST_PG`` or
postgresql://postgres@127.0.0.1:5432/test; loopback only; about half a minute).

1. Throughput of ``subtract_user_balance_async`` on PostgreSQL (one data-modifying CTE
   statement), side by side with the same work sent straight through asyncpg (the bare
   conditional UPDATE, and UPDATE + ledger INSERT in a transaction), with the store's generic
   multi-statement transaction (``BalanceStore._apply_change``, an internal: what PostgreSQL
   ran before), and with pgbench running that transaction with as many clients (``-j 1``
   and ``-j 2`` client threads).
2. Event-loop lag (a ticker task asking for 1 ms sleeps) while 100 handlers each do one
   balance operation: a blocking sqlite3 call inside the handler, the same call through
   ``to_async``, and the native async store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from safe_polling.db import BalanceStore, open_balance_store, to_async

PG_DSN = os.environ.get("SAFE_POLLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CONCURRENCY = 10  # the store's default pool size
SECONDS = 2.0  # per throughput measurement
ROUNDS = 3  # medians of interleaved rounds
PGBENCH = "pgbench -M prepared -j {threads}: BEGIN, UPDATE, INSERT, END"
USER = 1  # the lag benchmark's user
UPDATE = (
    "UPDATE safe_polling_balances SET balance = balance - $1 "
    "WHERE user_id = $2 AND balance >= $1 RETURNING balance"
)
LEDGER = (
    "INSERT INTO safe_polling_ledger (user_id, delta, balance_after, reason, idempotency_key) "
    "VALUES ($1, $2, $3, $4, $5)"
)


async def rate(op: Callable[[int], Awaitable[object]]) -> float:
    """Operations per second of *op* run by CONCURRENCY workers for SECONDS.

    Worker *i* works on user ``i + 1``: we measure the per-operation cost, not the wait
    for one hot row's lock (which every variant would pay alike).
    """
    deadline = time.perf_counter() + SECONDS
    counts = [0] * CONCURRENCY

    async def worker(i: int) -> None:
        while time.perf_counter() < deadline:
            await op(i + 1)
            counts[i] += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    return sum(counts) / (time.perf_counter() - start)


def pgbench_tps(url: str, schema: str, threads: int = 2) -> float | None:
    """TPS of pgbench running the store's transaction, or None without pgbench.

    ``threads`` is pgbench's ``-j``: 1 matches the bot's one event loop thread; 2 gives the C
    client both cores of this machine.
    """
    places = ("/usr/bin/pgbench", "/usr/lib/postgresql/15/bin/pgbench")
    exe = shutil.which("pgbench") or next((p for p in places if Path(p).exists()), None)
    if exe is None:
        return None
    parts = urlsplit(url)
    script = (
        "BEGIN;\n"
        "UPDATE safe_polling_balances SET balance = balance - 1 "
        "WHERE user_id = :client_id + 1 AND balance >= 1 RETURNING balance;\n"
        "INSERT INTO safe_polling_ledger (user_id, delta, balance_after, reason) "
        "VALUES (:client_id + 1, -1, 0, 'pgbench');\n"
        "END;\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    env = {**os.environ, "PGOPTIONS": f"-c search_path={schema}"}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    cmd = [
        exe, "-n", "-M", "prepared", "-c", str(CONCURRENCY), "-j", str(threads),
        "-T", str(int(SECONDS)),
        "-f", f.name, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
        "-U", parts.username or "postgres", parts.path.lstrip("/") or "postgres",
    ]  # fmt: skip
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True)
    finally:
        os.unlink(f.name)
    found = re.search(r"tps = ([\d.]+) \(without initial connection", out.stdout)
    return float(found.group(1)) if found else None


async def throughput() -> None:
    schema = f"sp_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_DSN, timeout=10)
    await admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_DSN}{'&' if '?' in PG_DSN else '?'}search_path={schema}"
    try:
        async with open_balance_store(url) as store:
            for user in range(1, CONCURRENCY + 1):
                await store.set_user_balance_async(user, 10**15)
            pool = await asyncpg.create_pool(
                PG_DSN, min_size=CONCURRENCY, max_size=CONCURRENCY,
                server_settings={"search_path": schema},
            )  # fmt: skip

            async def bare_update(user: int) -> None:
                async with pool.acquire() as conn:
                    await conn.fetchrow(UPDATE, 1, user)

            async def same_transaction(user: int) -> None:
                async with pool.acquire() as conn, conn.transaction():
                    row = await conn.fetchrow(UPDATE, 1, user)
                    assert row is not None
                    await conn.execute(LEDGER, user, -1, row["balance"], "raw", None)

            async def via_store(user: int) -> None:
                await store.subtract_user_balance_async(user, 1, reason="bench")

            async def via_store_transaction(user: int) -> None:
                # The store's generic path (BEGIN, UPDATE, INSERT, COMMIT, the pool's reset),
                # which PostgreSQL used before its one-statement change.
                await BalanceStore._apply_change(store, user, 1, -1, "bench", None)

            async def via_store_keyed(user: int) -> None:
                await store.subtract_user_balance_async(
                    user, 1, reason="bench", idempotency_key=uuid.uuid4().hex
                )

            variants = {
                "asyncpg: bare conditional UPDATE (autocommit)": bare_update,
                "asyncpg: UPDATE + ledger INSERT in a transaction": same_transaction,
                "store: subtract_user_balance_async": via_store,
                "store: the same as a multi-statement transaction": via_store_transaction,
                "store: subtract_user_balance_async + idempotency_key": via_store_keyed,
            }
            runs: dict[str, list[float]] = {name: [] for name in variants}
            try:
                for _ in range(ROUNDS):  # interleaved, so drift hits every variant alike
                    for name, op in variants.items():
                        runs[name].append(await rate(op))
                    for threads in (1, 2):
                        tps = await asyncio.to_thread(pgbench_tps, PG_DSN, schema, threads)
                        if tps is not None:
                            runs.setdefault(PGBENCH.format(threads=threads), []).append(tps)
            finally:
                await pool.close()
        figures = {name: statistics.median(values) for name, values in runs.items()}
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()

    base = figures["store: subtract_user_balance_async"]
    print(
        f"\n== PostgreSQL throughput ({CONCURRENCY} concurrent, one user each; "
        f"median of {ROUNDS} x {SECONDS:.0f} s) =="
    )
    for name, value in figures.items():
        print(f"{name:<56} {value:>9.0f} ops/s   store/this = {base / value:.2f}")


# -- event-loop lag ---------------------------------------------------------------------


def blocking_subtract(path: str, user_id: int) -> int:
    """What a legacy bot does: sqlite3 in the handler (same pragmas as the store)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        (balance,) = conn.execute(
            "UPDATE balances SET balance = balance - 1 WHERE user_id = ? AND balance >= 1 "
            "RETURNING balance",
            (user_id,),
        ).fetchone()
        conn.execute("INSERT INTO ledger (user_id, delta) VALUES (?, -1)", (user_id,))
        conn.execute("COMMIT")
        return int(balance)
    finally:
        conn.close()


async def lag_during(handlers: Callable[[], Awaitable[object]]) -> tuple[list[float], float]:
    """Ticker lag samples (ms) and wall time (s) while *handlers* runs."""
    samples: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            samples.append((time.perf_counter() - start - 0.001) * 1000)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    start = time.perf_counter()
    await handlers()
    wall = time.perf_counter() - start
    done.set()
    await tick
    return samples, wall


def pct(values: list[float], q: int) -> float:
    """The q-th percentile; with fewer than two samples, the worst one."""
    if len(values) < 2:
        return max(values, default=0.0)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def loop_lag() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sp_db_bench_"))
    legacy = str(tmp / "legacy.sqlite3")
    with sqlite3.connect(legacy) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE balances (user_id INTEGER PRIMARY KEY, balance INTEGER)")
        conn.execute(
            "CREATE TABLE ledger (id INTEGER PRIMARY KEY, user_id INTEGER, delta INTEGER)"
        )
        conn.execute("INSERT INTO balances VALUES (1, 1000000)")
    wrapped = to_async(blocking_subtract)
    ops = 100

    async def blocking() -> None:
        async def handler() -> None:
            blocking_subtract(legacy, USER)  # the bug: blocks the loop

        await asyncio.gather(*(handler() for _ in range(ops)))

    async def adapted() -> None:
        await asyncio.gather(*(wrapped(legacy, USER) for _ in range(ops)))

    def native(store: BalanceStore) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await asyncio.gather(*(store.subtract_user_balance_async(USER, 1) for _ in range(ops)))

        return run

    schema = f"sp_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_DSN, timeout=10)
    await admin.execute(f"CREATE SCHEMA {schema}")
    pg_url = f"{PG_DSN}{'&' if '?' in PG_DSN else '?'}search_path={schema}"
    results: dict[str, tuple[list[float], float]] = {}
    try:
        async with (
            open_balance_store(f"sqlite:///{tmp}/store.sqlite3") as lite,
            open_balance_store(pg_url) as pg,
        ):
            await lite.set_user_balance_async(USER, 10**6)
            await pg.set_user_balance_async(USER, 10**6)
            results["blocking sqlite3 call in the handler"] = await lag_during(blocking)
            results["the same call through to_async"] = await lag_during(adapted)
            results["native store, SQLite"] = await lag_during(native(lite))
            results["native store, PostgreSQL"] = await lag_during(native(pg))
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
        shutil.rmtree(tmp, ignore_errors=True)

    base = pct(results["blocking sqlite3 call in the handler"][0], 99)
    print(f"\n== Event-loop lag while {ops} handlers each do one balance operation ==")
    print(f"{'':<40} {'ticks':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'wall s':>7}"
          "  blocking p99 / this p99")  # fmt: skip
    for name, (samples, wall) in results.items():
        p99 = pct(samples, 99)
        print(
            f"{name:<40} {len(samples):>5} {pct(samples, 50):>8.2f} {p99:>8.2f} "
            f"{max(samples, default=0):>8.2f} {wall:>7.2f}  {base / max(p99, 1e-6):>8.1f}x"
        )


async def main() -> None:
    print(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )
    await throughput()
    await loop_lag()


if __name__ == "__main__":
    asyncio.run(main())
