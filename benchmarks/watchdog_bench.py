"""LoopWatchdog overhead, as ratios against the same loop without it, in the same run.

Run: ``.venv/bin/python benchmarks/watchdog_bench.py [--rounds 5]`` (no services; ~15 s).

1. Busy loop: time to run 200 000 ``asyncio.sleep(0)`` hops spread over 100 tasks
   (a stand-in for many small handlers), with and without the watchdog (threshold 100 ms).
2. Idle loop: process CPU time spent over 2 s of an idle loop, with and without it (the
   heartbeat timer and the monitor thread are the only cost of a watchdog at rest).

Rounds alternate the two variants so that machine noise hits both alike; medians are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from safe_polling._watchdog import LoopWatchdog

HOPS = 200_000
TASKS = 100
IDLE_SECONDS = 2.0


async def busy() -> float:
    async def worker(hops: int) -> None:
        for _ in range(hops):
            await asyncio.sleep(0)

    started = time.perf_counter()
    await asyncio.gather(*(worker(HOPS // TASKS) for _ in range(TASKS)))
    return time.perf_counter() - started


async def idle() -> float:
    started = time.process_time()
    await asyncio.sleep(IDLE_SECONDS)
    return time.process_time() - started


async def measure(work: Callable[[], Awaitable[float]], watched: bool) -> float:
    if not watched:
        return await work()
    async with LoopWatchdog(threshold=0.1):
        return await work()


def compare(name: str, work: Callable[[], Awaitable[float]], rounds: int, unit: str) -> None:
    bare: list[float] = []
    watched: list[float] = []
    for _ in range(rounds):
        bare.append(asyncio.run(measure(work, False)))
        watched.append(asyncio.run(measure(work, True)))
    base, with_wd = statistics.median(bare), statistics.median(watched)
    print(
        f"{name}: without {base * 1000:.1f} {unit}, with watchdog {with_wd * 1000:.1f} {unit}"
        f" (ratio {with_wd / base:.3f})"
        if base
        else f"{name}: baseline is 0"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    compare(f"busy loop, {HOPS} hops", busy, args.rounds, "ms wall")
    compare(f"idle loop, {IDLE_SECONDS:g} s", idle, max(1, args.rounds // 2), "ms CPU")
    print("(idle: the ratio is against a near-zero baseline; the absolute CPU is the figure)")


if __name__ == "__main__":
    main()
