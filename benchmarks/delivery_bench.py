"""Throughput cost of at-least-once delivery, side by side with plain PTB polling.

Run: ``.venv/bin/python benchmarks/delivery_bench.py`` (PostgreSQL at ``SAFE_POLLING_TEST_PG``
or postgresql://postgres@127.0.0.1:5432/test; loopback only; about 10 minutes, mostly injecting).
Options: ``--updates N`` (default 2000), ``--trials T`` (default 3), ``--concurrency C``
(default 8), ``--profile CONFIG`` (one cProfile'd trial of e.g. ``noop/alo-pg``).

One fake Bot API (a separate process) serves every trial, each with a fresh bot token:
N updates are injected up front, then the bot starts polling in this process and the
clock runs until the handler has seen all N. Configurations (same handler, same
``concurrent_updates``):

* ``plain``: PTB's own ``updater.start_polling()``, no safe_polling;
* ``amo``: ``safe_polling`` at-most-once (the gate without delivery tracking);
* ``alo-sqlite`` / ``alo-pg``: at-least-once, delivery records in SQLite / PostgreSQL.

Handlers: ``noop`` (counts) and ``write-sqlite`` / ``write-pg`` (one idempotent balance
credit per update in that database; its at-least-once variant keeps the records in the
same database, as a real bot would). Trials alternate; medians and ratios to ``plain``
are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from safe_polling._delivery import DeliveryTracker, ProcessedUpdates
from safe_polling._polling import start_guarded, stop_guarded
from safe_polling.db import BalanceStore, open_balance_store
from safe_polling.lease import bot_id_from_token
from safe_polling.testing import FakeBotAPIClient, make_token, spawn_fake_bot_api

PG_DSN = os.environ.get("SAFE_POLLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
USERS = 50
# What --profile shows: our code, the drivers, JSON, PTB's polling, thread hops.
PROFILED = r"safe_polling|sqlite|asyncpg|json|_updater|run_in_executor"
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


@dataclass(frozen=True)
class Config:
    handler: str  # noop | write-sqlite | write-pg
    mode: str  # plain | amo | alo-sqlite | alo-pg

    @property
    def name(self) -> str:
        return f"{self.handler}/{self.mode}"


def configs() -> list[Config]:
    found = [Config("noop", m) for m in ("plain", "amo", "alo-sqlite", "alo-pg")]
    for db in ("sqlite", "pg"):
        found += [Config(f"write-{db}", m) for m in ("plain", "amo", f"alo-{db}")]
    return found


class Bench:
    def __init__(self, fake: FakeBotAPIClient, stores: dict[str, BalanceStore], args: Any):
        self.fake = fake
        self.stores = stores
        self.n: int = args.updates
        self.concurrency: int = args.concurrency

    async def inject(self, token: str) -> None:
        async def one(i: int) -> None:
            await self.fake.inject_message(1 + i % USERS, f"m{i}", token=token)

        for start in range(0, self.n, 50):  # in order, but 50 requests at a time
            await asyncio.gather(*(one(i) for i in range(start, min(start + 50, self.n))))

    def handler(self, config: Config, done: asyncio.Event, seen: list[int]) -> Handler:
        store = self.stores.get(config.handler.removeprefix("write-"))

        async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
            if store is not None:
                await store.add_user_balance_async(
                    update.effective_user.id if update.effective_user else 0,
                    1,
                    reason="bench",
                    idempotency_key=f"bench:{update.get_bot().id}:{update.update_id}",
                )
            seen.append(update.update_id)
            if len(seen) >= self.n:
                done.set()

        return handle

    async def trial(self, config: Config, profiler: cProfile.Profile | None = None) -> float:
        """Seconds from starting to poll until all N updates were handled."""
        token = make_token()
        await self.inject(token)
        done, seen = asyncio.Event(), []
        app = (
            ApplicationBuilder()
            .token(token)
            .base_url(self.fake.base_url)
            .concurrent_updates(self.concurrency)
            .build()
        )
        app.add_handler(MessageHandler(filters.TEXT, self.handler(config, done, seen)))
        tracker = await self.tracker(config, token)
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        await self.start(app, config, tracker)
        try:
            try:
                await asyncio.wait_for(done.wait(), 120)
            except TimeoutError:
                raise RuntimeError(f"{config.name}: only {len(set(seen))}/{self.n}") from None
            elapsed = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
        finally:
            await self.stop(app, config, tracker)
        assert len(set(seen)) == self.n, f"{config.name}: handled {len(set(seen))}/{self.n}"
        if tracker is not None:
            await self.check_recorded(tracker, token)
        return elapsed

    async def tracker(self, config: Config, token: str) -> DeliveryTracker | None:
        if not config.mode.startswith("alo-"):
            return None
        store = self.stores[config.mode.removeprefix("alo-")]
        processed = ProcessedUpdates(store, bot_id_from_token(token))
        await processed.open()
        return DeliveryTracker(processed)

    @staticmethod
    async def start(app: Application, config: Config, tracker: DeliveryTracker | None) -> None:  # type: ignore[type-arg]
        if config.mode == "plain":
            await app.initialize()
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(timeout=10, drop_pending_updates=False)
            return
        await start_guarded(
            app,
            drop_updates=False,
            allowed_updates=None,
            poll_interval=0.0,
            timeout=10,
            error_callback=None,
            delivery=tracker,
        )

    @staticmethod
    async def stop(app: Application, config: Config, tracker: DeliveryTracker | None) -> None:  # type: ignore[type-arg]
        if config.mode == "plain":
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            return
        await stop_guarded(app, call_post_stop=False, delivery=tracker)

    async def check_recorded(self, tracker: DeliveryTracker, token: str) -> None:
        row = await tracker.processed.store.fetch_one(
            "SELECT COUNT(*) AS n FROM safe_polling_processed_updates WHERE bot_id = $1",
            bot_id_from_token(token),
        )
        assert row is not None
        assert int(row["n"]) == self.n, f"recorded {row['n']}/{self.n}"
        stats = (await self.fake.stats()).for_token(token)
        assert stats.pending_count == 0, f"{stats.pending_count} left unconfirmed"


def report(results: dict[Config, list[float]], n: int) -> None:
    print(f"\n{'config':<24}{'median s':>10}{'updates/s':>11}{'vs plain':>10}  trials (s)")
    for config, times in results.items():
        base = statistics.median(results[Config(config.handler, "plain")])
        median = statistics.median(times)
        trials = " ".join(f"{t:.2f}" for t in times)
        print(
            f"{config.name:<24}{median:>10.3f}{n / median:>11.0f}{base / median:>9.2f}x  {trials}"
        )


async def run(args: argparse.Namespace) -> None:
    schema = f"delivery_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        admin = await open_balance_store(PG_DSN)
        await admin.execute(f"CREATE SCHEMA {schema}")
        stores: dict[str, BalanceStore] = {}
        try:
            stores["pg"] = await open_balance_store(f"{PG_DSN}?search_path={schema}")
            stores["sqlite"] = await open_balance_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            async with spawn_fake_bot_api(conflict_delay=0.2) as fake:
                bench = Bench(fake, stores, args)
                await bench.trial(Config("noop", "plain"))  # warm-up: imports, first connections
                if args.profile:
                    await profile(bench, args.profile)
                    return
                await measure(bench, args)
        finally:
            for store in stores.values():
                await store.aclose()
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
            await admin.aclose()


async def measure(bench: Bench, args: argparse.Namespace) -> None:
    chosen = [c for c in configs() if not args.only or c.handler in args.only.split(",")]
    results: dict[Config, list[float]] = {c: [] for c in chosen}
    print(
        f"{args.updates} updates injected up front, concurrent_updates={args.concurrency}, "
        f"{args.trials} alternating trials"
    )
    for trial in range(args.trials):
        for config in chosen:
            seconds = await bench.trial(config)
            results[config].append(seconds)
            print(f"  trial {trial + 1} {config.name:<24}{seconds:.3f} s", flush=True)
    report(results, args.updates)


async def profile(bench: Bench, name: str) -> None:
    handler, mode = name.split("/")
    profiler = cProfile.Profile()
    seconds = await bench.trial(Config(handler, mode), profiler)
    print(f"{name}: {seconds:.3f} s")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(PROFILED, 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", default="")
    parser.add_argument("--only", default="", help="handlers to run, e.g. noop,write-sqlite")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
