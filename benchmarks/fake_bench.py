"""Updates per second a trivial PTB bot gets through the fake Bot API, this fake vs main's.

Run: ``.venv/bin/python benchmarks/fake_bench.py`` (loopback only; about 2 minutes).
Options: ``--updates N`` (default 5000), ``--replies R`` (default 500), ``--trials T``
(default 5), ``--baseline REV`` (the git revision whose fake is the baseline, default
``main``; ``d51a17d`` is the fake before it served every method).

Configurations, each in this process with its own fake on 127.0.0.1 (no simulated latency:
this measures the fake and PTB, not the network; the latency option is another change):

* ``baseline``: the fake at ``--baseline``, its package copied from git into a temporary
  directory and imported under another name;
* ``current``: the fake of this checkout; also run alone with a simulated round trip on
  every call (``--latency``, default 60 ms, the distance from a cloud region to Telegram).

Each trial declares the users, injects the messages from 50 users up front, starts a PTB
``Application`` (``concurrent_updates(8)``) and times until its handler is done with all of
them. Two handlers: ``noop`` counts (N updates: the getUpdates path), ``reply`` answers each
message with ``sendMessage`` (R updates: getUpdates plus one send each, where PTB's own HTTP
client dominates). Trials alternate baseline/current; medians and the ratios current/baseline
are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

import safe_polling.testing as current_fake

USERS = 50
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "src/safe_polling/testing"


def load_baseline(revision: str, into: Path) -> ModuleType:
    """Import the fake package as it is at ``revision``, renamed ``baseline_fake``."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{revision}:{PACKAGE}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    target = into / "baseline_fake"
    target.mkdir()
    for name in listing:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:{PACKAGE}/{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (target / name).write_text(source.replace("safe_polling.testing", "baseline_fake"))
    sys.path.insert(0, str(into))
    return importlib.import_module("baseline_fake")


async def trial(fake: Any, updates: int, answer: bool, latency: float = 0.0) -> float:
    """Seconds for a PTB bot to handle ``updates`` messages (answering each if ``answer``),
    every call taking a ``latency`` round trip."""
    handled = 0
    done = asyncio.Event()

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        nonlocal handled
        if answer:
            assert update.message is not None
            await update.message.reply_text("ok")
        handled += 1
        if handled == updates:
            done.set()

    async with fake.FakeBotAPI() as api:
        if latency:
            api.set_latency(latency)
        if hasattr(api, "add_user"):
            for user in range(1, USERS + 1):
                api.add_user(user)
        for n in range(updates):
            api.inject_message(n % USERS + 1, f"message {n}")
        app = api.application_builder().concurrent_updates(8).build()
        app.add_handler(MessageHandler(filters.TEXT, handle))
        async with app:
            started = time.perf_counter()
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(timeout=1)
            await asyncio.wait_for(done.wait(), 300)
            elapsed = time.perf_counter() - started
            await app.updater.stop()
            await app.stop()
        return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--replies", type=int, default=500)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--latency", type=float, default=60.0, help="ms; 0 skips that run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = load_baseline(args.baseline, Path(tmp))
        fakes = {"baseline": baseline, "current": current_fake}
        sizes = {"noop": args.updates, "reply": args.replies}
        results: dict[tuple[str, str], list[float]] = {
            (handler, name): [] for handler in sizes for name in fakes
        }
        await trial(current_fake, 200, answer=True)  # warm-up: imports, first connections
        for _ in range(args.trials):
            for handler, size in sizes.items():
                for name, fake in fakes.items():
                    seconds = await trial(fake, size, answer=handler == "reply")
                    results[(handler, name)].append(size / seconds)
    print(f"{args.trials} trials, medians in updates/s (range):")
    for handler, size in sizes.items():
        medians = {}
        for name in fakes:
            rates = results[(handler, name)]
            medians[name] = statistics.median(rates)
            spread = f"{min(rates):.0f}-{max(rates):.0f}"
            print(f"  {handler:5} x{size:<5} {name:8} {medians[name]:7.0f}  ({spread})")
        print(f"  {handler:5} current/baseline: {medians['current'] / medians['baseline']:.2f}x")
    if args.latency:
        # Only this fake simulates a round trip; the baseline has no latency option.
        for handler, size in sizes.items():
            rates = [
                size / await trial(current_fake, size, handler == "reply", args.latency / 1000)
                for _ in range(args.trials)
            ]
            median = statistics.median(rates)
            print(f"  {handler:5} x{size:<5} current at {args.latency:.0f} ms: {median:7.0f}")


if __name__ == "__main__":
    asyncio.run(main())
