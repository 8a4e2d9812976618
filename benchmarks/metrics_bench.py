"""What Prometheus metrics cost a polling bot: updates/s with metrics on, against off.

Run: ``.venv/bin/python benchmarks/metrics_bench.py [--updates 1000] [--trials 3]
[--latency 0 0.06]`` (no database; loopback only; 5-20 minutes on a shared machine,
mostly injecting the updates into the fake).

One fake Bot API (a separate process) serves every trial, each with a fresh bot token:
N updates are injected up front, then the bot starts polling in this process through
safe-polling's start path (at-most-once, ``concurrent_updates=8``, a handler that only
counts) and the clock runs until the handler has seen all N. Configurations, alternating:

* ``off``: ``prometheus_client`` treated as absent (what a bot without the ``metrics``
  extra runs: every instrumentation call returns at once);
* ``on``: metrics recorded (getUpdates outcome and duration, updates fetched, each update
  counted and timed by the metered update processor, each handler run timed by its
  callback's name).

The headline is this process's CPU time per update (``time.process_time``), which the
other processes on a shared machine disturb far less than wall time; updates/s is shown
too.

The fake answers every Bot API call after a simulated round trip (``--latency``, default
0 ms and 60 ms): metrics cost CPU per update and per getUpdates, which a slower network
hides in wall time, so 0 ms is the case that shows them.
Internals used: ``safe_polling._polling.start_guarded``/``stop_guarded`` (the start path
without signals and lease) and the module state of ``safe_polling._metrics`` (to turn
metrics off).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from safe_polling import _metrics
from safe_polling._polling import start_guarded, stop_guarded
from safe_polling.testing import FakeBotAPIClient, make_token, spawn_fake_bot_api

CONCURRENCY = 8


async def inject(fake: FakeBotAPIClient, token: str, n: int) -> None:
    for start in range(0, n, 50):  # in order, 50 requests at a time
        batch = range(start, min(start + 50, n))
        await asyncio.gather(*(fake.inject_message(1 + i % 50, "hi", token=token) for i in batch))


async def trial(fake: FakeBotAPIClient, n: int, metrics_on: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of this process from starting to poll until all N were handled."""
    real = _metrics._active()
    assert real is not None, "install the metrics extra to run this benchmark"
    _metrics._metrics = real if metrics_on else None
    token = make_token()
    await inject(fake, token, n)
    done, seen = asyncio.Event(), set()

    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        seen.add(update.update_id)
        if len(seen) >= n:
            done.set()

    app = ApplicationBuilder().token(token).base_url(fake.base_url)
    application = app.concurrent_updates(CONCURRENCY).build()
    application.add_handler(MessageHandler(filters.TEXT, handle))
    started, cpu = time.perf_counter(), time.process_time()
    await start_guarded(
        application,
        drop_updates=False,
        allowed_updates=None,
        poll_interval=0.0,
        timeout=10,
        error_callback=None,
    )
    try:
        await asyncio.wait_for(done.wait(), 120)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await stop_guarded(application, call_post_stop=False)
        _metrics._metrics = real


async def run(args: argparse.Namespace) -> None:
    for latency in args.latency:
        rtt = f"{latency * 1000:.0f} ms round trip"
        print(f"\n{rtt}, {args.updates} updates, {args.trials} trials", flush=True)
        async with spawn_fake_bot_api(conflict_delay=0.2, latency=latency) as fake:
            await trial(fake, 200, True)  # warm-up: imports, first connections
            results: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
            for number in range(args.trials):
                for name in results:
                    wall, cpu = await trial(fake, args.updates, name == "on")
                    results[name].append((wall, cpu))
                    print(f"  trial {number + 1} metrics {name:<4}{wall:.3f} s, CPU {cpu:.3f} s")
        report(results, args.updates)


def report(results: dict[str, list[tuple[float, float]]], updates: int) -> None:
    per_update = {k: statistics.median(c for _, c in v) / updates for k, v in results.items()}
    walls = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    print(f"\n{'metrics':<9}{'updates/s':>10}{'CPU us/update':>15}{'CPU vs off':>12}")
    for name in results:
        ratio = per_update[name] / per_update["off"]
        cost = per_update[name] * 1e6
        print(f"{name:<9}{updates / walls[name]:>10.0f}{cost:>15.0f}{ratio:>11.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--latency", type=float, nargs="+", default=[0.0, 0.06], help="round trips (s)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
