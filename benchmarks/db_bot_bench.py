"""End-to-end: updates/s of a real PTB bot that writes one balance change per update.

Run: ``.venv/bin/python benchmarks/db_bot_bench.py [--updates 400] [--rounds 3]``
(loopback only: the in-process fake Bot API and PostgreSQL at ``SAFE_POLLING_TEST_PG``).

The same bot (PTB ``Application`` polling the fake Bot API through
``safe_start_polling``, ``concurrent_updates(16)``) handles N injected text
messages; each handler credits its user one unit. Only the balance write differs:

* ``sync sqlite3 in handler``: the frozen-loop bug, a blocking sqlite3 call
  (connect, UPDATE/INSERT, commit) inside ``async def``;
* ``to_async(sync fn)``: the same function through ``safe_polling.db.to_async``;
* ``store, SQLite`` / ``store, PostgreSQL``: ``add_user_balance_async``.

Rounds are interleaved; the table shows medians and the ratio to the blocking
variant. A second column shows the event loop's worst stall during the run (a
ticker asking for 5 ms sleeps), which is what users feel as a frozen bot.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from safe_polling import safe_start_polling, safe_stop_polling
from safe_polling.db import open_balance_store, to_async
from safe_polling.testing import FakeBotAPI

PG_DSN = os.environ.get("SAFE_POLLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
USERS = 50

Credit = Callable[[int], Awaitable[None]]


def sync_credit(path: str, user_id: int) -> None:
    """The frozen-loop shape: a blocking sqlite3 write (one commit per call)."""
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute(
            "INSERT INTO balances (user_id, balance) VALUES (?, 1) "
            "ON CONFLICT (user_id) DO UPDATE SET balance = balance + 1",
            (user_id,),
        )
        connection.commit()
    finally:
        connection.close()


def prepare_sqlite(path: str) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE balances (user_id INTEGER PRIMARY KEY, balance INTEGER)")
    connection.commit()
    connection.close()


async def run_bot(credit: Credit, updates: int) -> tuple[float, float]:
    """(updates/s, worst loop stall in ms) for one bot run of *updates* messages."""
    done = asyncio.Event()
    handled = 0

    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        nonlocal handled
        assert update.effective_user is not None
        await credit(update.effective_user.id)
        handled += 1
        if handled == updates:
            done.set()

    stalls: list[float] = []

    async def ticker() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append(time.perf_counter() - before - 0.005)

    async with FakeBotAPI() as api:
        application = api.application_builder().concurrent_updates(16).build()
        application.add_handler(MessageHandler(filters.TEXT, handle))
        await safe_start_polling(application, timeout=1)
        tick = asyncio.create_task(ticker())
        start = time.perf_counter()
        for i in range(updates):
            api.inject_message(1000 + i % USERS, f"credit {i}")
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - start
        tick.cancel()
        await safe_stop_polling(application)
    return updates / elapsed, max(stalls) * 1000


async def variants(workdir: Path) -> dict[str, Callable[[], Awaitable[Credit]]]:
    async def blocking() -> Credit:
        path = str(workdir / f"sync-{uuid.uuid4().hex}.db")
        prepare_sqlite(path)

        async def credit(user_id: int) -> None:
            sync_credit(path, user_id)  # blocks the event loop: the frozen-loop bug

        return credit

    async def threaded() -> Credit:
        path = str(workdir / f"thread-{uuid.uuid4().hex}.db")
        prepare_sqlite(path)
        credit_async = to_async(sync_credit)

        async def credit(user_id: int) -> None:
            await credit_async(path, user_id)

        return credit

    def store_variant(url: Callable[[], str]) -> Callable[[], Awaitable[Credit]]:
        async def make() -> Credit:
            store = await open_balance_store(url())
            STORES.append(store)

            async def credit(user_id: int) -> None:
                await store.add_user_balance_async(user_id, 1, reason="bench")

            return credit

        return make

    return {
        "sync sqlite3 in handler": blocking,
        "to_async(sync fn)": threaded,
        "store, SQLite": store_variant(lambda: f"sqlite:///{workdir}/store-{uuid.uuid4().hex}.db"),
        "store, PostgreSQL": store_variant(lambda: f"{PG_DSN}?search_path={SCHEMA}"),
    }


STORES: list[object] = []
SCHEMA = f"bench_{uuid.uuid4().hex[:10]}"


async def main(updates: int, rounds: int) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    admin = await open_balance_store(PG_DSN)
    await admin.execute(f"CREATE SCHEMA {SCHEMA}")
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            table = await variants(Path(tmp))
            for _ in range(rounds):
                for name, make in table.items():
                    credit = await make()
                    results.setdefault(name, []).append(await run_bot(credit, updates))
                for store in STORES:
                    await store.aclose()  # type: ignore[attr-defined]
                STORES.clear()
                await admin.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
                await admin.execute(f"CREATE SCHEMA {SCHEMA}")
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await admin.aclose()
    baseline = statistics.median(r[0] for r in results["sync sqlite3 in handler"])
    print(f"{updates} updates per run, {rounds} interleaved rounds, medians")
    print(f"{'balance write':<26} {'updates/s':>10} {'vs blocking':>12} {'worst stall ms':>15}")
    for name, runs in results.items():
        rate = statistics.median(r[0] for r in runs)
        stall = statistics.median(r[1] for r in runs)
        print(f"{name:<26} {rate:>10.0f} {rate / baseline:>11.2f}x {stall:>15.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.updates, args.rounds))
