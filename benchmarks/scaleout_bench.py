"""Scale-out: throughput of 1 and 2 queue workers and the queue's added latency, vs one process.

Run: ``.venv/bin/python benchmarks/scaleout_bench.py`` (PostgreSQL at ``SAFE_POLLING_TEST_PG``,
Redis at ``SAFE_POLLING_TEST_REDIS``; loopback only; about 3 minutes). Options: ``--updates N``
(default 600), ``--trials T`` (default 2), ``--cpu-ms MS`` (default 10), ``--latency-samples S``
(default 30), ``--round-trip-ms MS...`` (default ``0 60``: each figure at each simulated round
trip to Telegram, the fake's ``latency`` option).

Every configuration runs the same bot as real processes (this script with ``--replica``):
a handler that burns ``--cpu-ms`` of pure-Python CPU time (it holds the GIL, like image or
receipt processing; timed with the thread's CPU clock, so a replica that waits for a core
still does all of its work) and notes when it started; the fake Bot API runs in its own
process. Configurations, side by side, trials alternating:

* ``single``: today's path without a queue: one process polls and handles, at-least-once
  delivery records in PostgreSQL;
* ``queue-1``: ``SAFE_POLLING_QUEUE`` on Redis, one replica (poller and worker);
* ``queue-2``: the same with two replicas (one also polls).

Throughput: N updates from 50 chats are injected at once (raw pipelined HTTP, to keep the
harness's CPU off the replicas' cores) into running replicas; the clock runs from the first
injection until the delivery records hold all N.
For ``queue-2`` each trial also prints how many updates each worker handled. Latency: one
update at a time, from its injection to its handler's start (both clocks on this host),
median of S. Printed per round trip: updates/s per configuration, the ratios
``queue-2 / queue-1`` and ``queue-1 / single``, the latency medians with the queue's
added latency, and the replicas' CPU time per update (from ``/proc``), which other
processes on a shared machine disturb far less than wall time: ``single / queue-1`` of it
is the throughput ratio of the two when a core is the limit. Each trial also prints the
shares of the time the replicas' main threads waited for a core (well above 0 %: the
machine is shared and the ratios measure its scheduler more than the bot) and were idle
(waiting for Redis, PostgreSQL or work: what the queue itself costs in stalls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from safe_polling.db import BalanceStore
    from safe_polling.testing import FakeBotAPIClient

PG_DSN = os.environ.get("SAFE_POLLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SAFE_POLLING_TEST_REDIS", "redis://127.0.0.1:6379/0")
CHATS = [7000 + n for n in range(50)]
READY = "✅ Polling started successfully!"
LEFT = re.compile(r"Left the workers \((\d+) update")
# Injection requests in flight at once on the one connection: enough to keep the fake busy.
INJECTING = 50
CONFIGS = {"single": 0, "queue-1": 1, "queue-2": 2}  # name -> replicas through the queue


# -- the replica ---------------------------------------------------------------------------------
def replica() -> None:
    """One bot process: burn CPU per update, note the handler's start time."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    from safe_polling import run_polling

    cpu = float(os.environ["BENCH_CPU_MS"]) / 1000
    # Start times go to a file of this replica's own (one line, no fsync), not to the
    # database: the handler is pure CPU, and the harness must not load PostgreSQL, which
    # shares the two cores with the workers it measures.
    starts = open(os.environ["BENCH_STARTS"], "a", buffering=1)  # noqa: SIM115

    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        started = time.time()
        # CPU time, not wall time: a handler descheduled by a busy machine still burns
        # its full share, so more processes than cores cannot make the work look cheaper.
        end = time.thread_time() + cpu
        while time.thread_time() < end:
            pass
        starts.write(f"{update.update_id} {started}\n")

    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .concurrent_updates(8)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, handle))
    run_polling(application, preflight=False, timeout=1, delivery="at-least-once")


# -- the driver ----------------------------------------------------------------------------------
class Replicas:
    """The bot processes of one configuration: their CPU time, and what each one handled."""

    def __init__(self, procs: list[subprocess.Popen[bytes]], starts: list[Path]) -> None:
        self.procs = procs
        self.starts = starts
        self.handled: list[int] = []

    def started(self, update_id: int) -> float | None:
        """When a handler started on *update_id* (a replica's clock), if one has."""
        prefix = f"{update_id} "
        for path in self.starts:
            with contextlib.suppress(FileNotFoundError):
                for line in path.read_text().splitlines():
                    if line.startswith(prefix):
                        return float(line.split()[1])
        return None

    def cpu(self) -> float:
        """CPU seconds the processes used so far (Linux ``/proc``; NaN elsewhere)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return float("nan")
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return total

    def scheduled(self) -> tuple[float, float]:
        """Seconds the main threads so far ran, and waited runnable for a core (NaN if unknown).

        Wall time minus both is time idle: waiting for Redis, PostgreSQL or work to arrive.
        A high wait means the machine is shared: the ratios then measure the scheduler.
        """
        ran = waited = 0.0
        for proc in self.procs:
            try:
                schedstat = Path(f"/proc/{proc.pid}/task/{proc.pid}/schedstat").read_text()
            except OSError:
                return float("nan"), float("nan")
            ran += int(schedstat.split()[0]) / 1e9
            waited += int(schedstat.split()[1]) / 1e9
        return ran, waited


@asynccontextmanager
async def replicas(
    config: str, base_url: str, token: str, url: str, cpu_ms: float, logdir: Path
) -> AsyncIterator[Replicas]:
    """The configuration's bot processes, running and ready; SIGTERMed on the way out.

    Yields a :class:`Replicas` whose ``handled`` holds, once they have left, how many updates
    each queue worker handled.
    """
    count = CONFIGS[config]
    name = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_BASE_URL": base_url,
        "DATABASE_URL": url,
        "BENCH_CPU_MS": str(cpu_ms),
        "PYTHONUNBUFFERED": "1",
        "SAFE_POLLING_LEASE": "none" if count == 0 else "redis",
        "SAFE_POLLING_REDIS_URL": REDIS_URL,
        "SAFE_POLLING_LEASE_NAME": name,
    }
    if count:
        env |= {"SAFE_POLLING_QUEUE": REDIS_URL, "SAFE_POLLING_QUEUE_NAME": name}
    logs = [logdir / f"{name}-{n}.log" for n in range(max(1, count))]
    starts = [log.with_suffix(".starts") for log in logs]
    procs = []
    for log, noted in zip(logs, starts, strict=True):
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--replica"],
                    env=env | {"BENCH_STARTS": str(noted)},
                    stdout=out,
                    stderr=out,
                )
            )
    try:
        deadline = time.monotonic() + 60
        while not any(READY in log.read_text(errors="replace") for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{config} did not start: see {logs[0]}")
            await asyncio.sleep(0.05)
        if count > 1:  # every worker owns its share before the clock starts
            share = f"Partitions owned here: {16 // count} of 16"
            while not all(share in log.read_text(errors="replace") for log in logs):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{config}: partitions not shared: see {logs}")
                await asyncio.sleep(0.05)
        running = Replicas(procs, starts)
        yield running
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            running.handled += [int(n) for n in LEFT.findall(log.read_text(errors="replace"))]
        if count:  # the queue's (empty) streams and groups
            from redis.asyncio import Redis

            client = Redis.from_url(REDIS_URL)
            keys = [k async for k in client.scan_iter(match=f"safe-polling:queue:*:{name}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def inject(fake: FakeBotAPIClient, token: str, count: int) -> None:
    """Inject *count* messages from the 50 chats: pipelined HTTP/1.1 on one connection.

    The fake stands in for Telegram, whose work runs elsewhere. Through the fake's client
    (httpx) each injection costs this process ~1 ms of CPU (measured), CPU the replicas on
    the same two cores would lose; raw pipelined requests cost a small part of that.
    """
    url = urlsplit(fake.control_base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        for start in range(0, count, INJECTING):
            batch = range(start, min(count, start + INJECTING))
            for n in batch:
                body = json.dumps(
                    {"user_id": CHATS[n % len(CHATS)], "text": f"m{n}", "token": token}
                )
                writer.write(
                    f"POST {url.path}/inject/message HTTP/1.1\r\nHost: {url.netloc}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    f"{body}".encode()
                )
            await writer.drain()
            for _ in batch:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                answer = await reader.readexactly(int(length.group(1)) if length else 0)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"injection failed: {head!r} {answer!r}")
    finally:
        writer.close()
        await writer.wait_closed()


async def count_records(store: BalanceStore, bot_id: int) -> int:
    row = await store.fetch_one(
        "SELECT COUNT(*) AS n FROM safe_polling_processed_updates WHERE bot_id = $1", bot_id
    )
    assert row is not None
    return int(row["n"])


async def trial(
    config: str, fake: FakeBotAPIClient, store: BalanceStore, url: str, args: argparse.Namespace
) -> tuple[float, float, tuple[float, float], list[int]]:
    """Updates/s for N updates injected into running replicas, the replicas' CPU ms per
    update, the shares of the time they waited for a core and were idle, and each worker's
    share of the updates."""
    from safe_polling.lease import bot_id_from_token
    from safe_polling.testing import make_token

    token = make_token()
    async with replicas(config, fake.base_url, token, url, args.cpu_ms, args.logdir) as running:
        started, cpu, (ran, waited) = time.perf_counter(), running.cpu(), running.scheduled()
        await inject(fake, token, args.updates)
        bot_id = bot_id_from_token(token)
        while (left := args.updates - await count_records(store, bot_id)) > 0:
            # Fewer counts while far from done (each costs CPU on the replicas' cores); the
            # last 20 updates are polled every 20 ms, at most 20 ms late even at 1,000/s.
            await asyncio.sleep(min(0.5, max(0.02, left / 1000)))
        elapsed = time.perf_counter() - started
        cpu_ms = (running.cpu() - cpu) * 1000 / args.updates
        now_ran, now_waited = running.scheduled()
        wall = elapsed * len(running.procs)
        starved, idle = (
            (now_waited - waited) / wall,
            1 - (now_ran - ran + now_waited - waited) / wall,
        )
    return float(args.updates / elapsed), cpu_ms, (starved, idle), running.handled


async def latency(
    config: str, fake: FakeBotAPIClient, url: str, args: argparse.Namespace
) -> float:
    """Median milliseconds from an update's injection to its handler's start."""
    from safe_polling.testing import make_token

    token = make_token()
    samples = []
    async with replicas(config, fake.base_url, token, url, args.cpu_ms, args.logdir) as running:
        for n in range(args.latency_samples):
            sent = time.time()
            update = await fake.inject_message(CHATS[n % len(CHATS)], f"l{n}", token=token)
            uid = int(update["update_id"])
            while (started := running.started(uid)) is None:
                await asyncio.sleep(0.005)
            samples.append((started - sent) * 1000)
            await asyncio.sleep(0.05)
    return statistics.median(samples)


async def run(args: argparse.Namespace) -> None:
    from safe_polling.db import open_balance_store
    from safe_polling.testing import spawn_fake_bot_api

    schema = f"scaleout_bench_{uuid.uuid4().hex[:8]}"
    async with open_balance_store(PG_DSN) as admin:
        await admin.execute(f"CREATE SCHEMA {schema}")
        url = f"{PG_DSN}?search_path={schema}"
        try:
            async with open_balance_store(url) as store, spawn_fake_bot_api() as fake:
                for round_trip in args.round_trip_ms:
                    await fake.set_latency(round_trip / 1000)
                    await measure(round_trip, fake, store, url, args)
        finally:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")


async def measure(
    round_trip: float,
    fake: FakeBotAPIClient,
    store: BalanceStore,
    url: str,
    args: argparse.Namespace,
) -> None:
    """Every configuration at one simulated round trip to Telegram, and the ratios."""
    rates: dict[str, list[float]] = {c: [] for c in CONFIGS}
    costs: dict[str, list[float]] = {c: [] for c in CONFIGS}
    for t in range(args.trials):
        for config in CONFIGS:
            rate, cpu_ms, (starved, idle), handled = await trial(config, fake, store, url, args)
            rates[config].append(rate)
            costs[config].append(cpu_ms)
            shares = f", handled {' + '.join(map(str, handled))}" if len(handled) > 1 else ""
            print(
                f"{round_trip:g} ms  trial {t + 1} {config:8} {rate:7.1f} updates/s"
                f"  (replicas' CPU {cpu_ms:5.2f} ms/update, waited for a core {starved:4.0%},"
                f" idle {idle:4.0%}{shares})",
                flush=True,
            )
    delays = {c: await latency(c, fake, url, args) for c in CONFIGS}
    medians = {c: statistics.median(r) for c, r in rates.items()}
    cost = {c: statistics.median(r) for c, r in costs.items()}
    print(
        f"\n{round_trip:g} ms round trip, {args.updates} updates, handler {args.cpu_ms:g} ms CPU,"
        f" medians of {args.trials}:"
    )
    for config in CONFIGS:
        print(
            f"  {config:8} {medians[config]:7.1f} updates/s   latency {delays[config]:6.2f} ms"
            f"   replicas' CPU {cost[config]:5.2f} ms/update"
        )
    print(f"  queue-2 / queue-1: {medians['queue-2'] / medians['queue-1']:.2f}x  (goal >= 1.7)")
    print(f"  queue-1 / single:  {medians['queue-1'] / medians['single']:.2f}x  (goal >= 0.8)")
    print(f"  CPU per update, single / queue-1: {cost['single'] / cost['queue-1']:.2f}x")
    added = delays["queue-1"] - delays["single"]
    print(f"  added latency Telegram -> handler start: {added:.2f} ms (goal <= 5)\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--replica", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--updates", type=int, default=600)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--cpu-ms", type=float, default=10.0)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--round-trip-ms", type=float, nargs="+", default=[0.0, 60.0])
    args = parser.parse_args()
    if args.replica:
        replica()
        return
    import tempfile

    with tempfile.TemporaryDirectory() as logdir:
        args.logdir = Path(logdir)
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
