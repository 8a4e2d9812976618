"""End-to-end polling handover: real bot processes, real leases, one fake Bot API.

For each backend, a chain of trials: a leader polls (``run_polling``, long-poll timeout 1 s),
a fresh standby waits on the lease, then the leader is stopped and the time until the
standby's first ``getUpdates`` is measured:

* graceful: SIGTERM to the leader; gap = old leader's last getUpdates ends -> new leader's
  first getUpdates starts;
* crash: ``kill -9`` of the leader; failover = kill sent -> new leader's first getUpdates.

Times come from each instance's own records (``tests/multiprocess/_instance.py``: every
request that really went out and every ``safe_polling`` log line, wall clock, one machine),
so the gap splits into phases: the old leader's shutdown after its last poll, the lease
wake-up, and the new leader's start (any getMe/deleteWebhook after the lease, the fence, the
first poll). The fake answers every call after a simulated round trip (``--latency``, default
0 ms and 60 ms: a bot hosted 60 ms away from Telegram).

The baseline, run the same way in the same run: a TTL-only lease at Kubernetes client-go
defaults (15 s lease, 2 s retry, no release notification) on the same Redis.

Usage::

    .venv/bin/python benchmarks/handover_bench.py            # ~6 min on 2 cores
    .venv/bin/python benchmarks/handover_bench.py --quick    # ~1.5 min smoke run
    .venv/bin/python benchmarks/handover_bench.py --only postgres   # ~5 min, 0 and 60 ms
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from multiprocess._harness import (  # noqa: E402
    LEADER,
    POLLING,
    STANDBY,
    Fleet,
    Instance,
    lease_env,
    wait_until,
)
from safe_polling.testing import make_token, spawn_fake_bot_api  # noqa: E402

PG = os.environ.get("SAFE_POLLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("SAFE_POLLING_TEST_REDIS", "redis://127.0.0.1:6379/0")

# Trials per (backend, scenario): (full run, --quick run).
TRIALS = {
    ("postgres", "graceful"): (20, 5),
    ("postgres", "crash"): (20, 5),
    ("redis", "graceful"): (15, 3),
    ("redis", "crash"): (3, 1),  # waits out the 10 s TTL each time
    ("file", "graceful"): (15, 3),
    ("file", "crash"): (15, 3),
    ("k8s", "graceful"): (5, 2),  # the baseline: up to one 2 s retry period
    ("k8s", "crash"): (3, 1),  # the baseline: the 15 s lease
}
LABELS = {
    "postgres": "postgres",
    "redis": "redis (ttl 10 s)",
    "file": "file",
    "k8s": "k8s-style TTL-only lease (15 s / 2 s)",
}


@dataclass
class Trial:
    """One handover: the total and its phases, in seconds."""

    total: float
    phases: dict[str, float] = field(default_factory=dict)


def _http(instance: Instance, method: str) -> list[dict[str, float]]:
    return [e for e in instance.events("http") if e["method"] == method]


def _start_phases(new: Instance, acquired: float) -> dict[str, float]:
    """The new leader's start, from the lease to its first getUpdates (after the fence)."""
    first_poll = new.get_updates()[0]["t0"]
    phases = {}
    for method in ("getMe", "deleteWebhook", "getWebhookInfo"):
        calls = [e for e in _http(new, method) if acquired <= e["t0"] < first_poll]
        phases[f"new: {method} after the lease (calls: {len(calls)})"] = sum(
            e["t1"] - e["t0"] for e in calls
        )
    phases["new: lease -> first getUpdates"] = first_poll - acquired
    return phases


async def _standby(group: Fleet) -> Instance:
    (instance,) = group.start(1)
    await instance.wait_for(STANDBY, timeout=30)
    return instance


async def _handover(leader: Instance, new: Instance, scenario: str, timeout: float) -> Trial:
    # Stop the leader at a random phase of its long poll, as a deploy would.
    await leader.wait_polls(1, after=time.time(), timeout=10)
    await asyncio.sleep(0.2 + (time.time() % 0.7))
    sent = time.time()
    if scenario == "crash":
        leader.proc.kill()
    else:
        leader.signal(signal.SIGTERM)
    await wait_until(lambda: bool(new.get_updates()), timeout, "the new leader's first poll")
    await leader.wait_exit(timeout=30)
    acquired = new.log_time(LEADER)
    assert acquired is not None
    first_poll = new.get_updates()[0]["t0"]
    phases = _start_phases(new, acquired)
    if scenario == "crash":
        phases["wake-up: kill -> lease acquired"] = acquired - sent
        return Trial(first_poll - sent, phases)
    last_poll = leader.get_updates()[-1]["t1"]
    released = leader.log_time("lease released") or acquired
    phases["old: SIGTERM -> last getUpdates ends"] = last_poll - sent
    phases["old: last getUpdates -> lease released"] = released - last_poll
    phases["wake-up: release logged -> lease acquired"] = acquired - released
    return Trial(first_poll - last_poll, phases)


async def run_chain(
    kind: str, scenario: str, trials: int, base_url: str, workdir: Path
) -> list[Trial]:
    """*trials* handovers in one chain of instances of one bot."""
    env = lease_env(kind, pg_dsn=PG, redis_url=REDIS, lock_file=workdir / "lease.lock")
    if kind == "k8s":
        env["MP_LEASE"] = "k8s"
    group = Fleet(workdir, base_url, make_token(), env)
    timeout = 40.0 if kind in ("redis", "k8s") else 15.0
    results = []
    try:
        (leader,) = group.start(1)
        await leader.wait_for(POLLING, timeout=30)
        for _ in range(trials):
            new = await _standby(group)
            results.append(await _handover(leader, new, scenario, timeout))
            leader = new
            await leader.wait_for(POLLING, timeout=10)
        await group.stop_all()
    finally:
        group.kill_all()
    return results


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p90 * 1000


def _fmt(ms: float) -> str:
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def report(
    results: dict[tuple[str, str], list[Trial]], conflicts: int, overlap: int, latency: float
) -> None:
    """Print medians and p90s, the baseline ratio, and the phase breakdown."""
    print(f"\n### Round trip {latency * 1000:.0f} ms")
    print("\n| backend | scenario | n | median | p90 | baseline median / median |")
    print("|---|---|---|---|---|---|")
    for (kind, scenario), trials in results.items():
        median, p90 = _ms([t.total for t in trials])
        base = results.get(("k8s", scenario))
        ratio = _ms([t.total for t in base])[0] / median if base else float("nan")
        label = "1x" if kind == "k8s" else f"{ratio:.0f}x" if base else "- (not run)"
        row = f"| {LABELS[kind]} | {scenario} | {len(trials)} | {_fmt(median)} | {_fmt(p90)} |"
        print(f"{row} {label} |")
    print("\nPhase breakdown (median / p90):")
    for (kind, scenario), trials in results.items():
        print(f"\n{LABELS[kind]}, {scenario}:")
        for name in trials[0].phases:
            median, p90 = _ms([t.phases[name] for t in trials if name in t.phases])
            print(f"  {name:<52} {_fmt(median):>9} / {_fmt(p90)}")
    print(f"\n409 answers at the fake over the whole run: {conflicts}")
    print(f"max concurrent getUpdates per bot over the whole run: {overlap}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="few trials, a smoke run")
    parser.add_argument("--only", nargs="*", help="backends to run (postgres redis file k8s)")
    parser.add_argument(
        "--latency", type=float, nargs="+", default=[0.0, 0.06], help="round trips (s)"
    )
    args = parser.parse_args()
    for latency in args.latency:
        await run_at(latency, args.quick, args.only)


async def run_at(latency: float, quick: bool, only: list[str] | None) -> None:
    """Every chain against one fake answering after a simulated round trip of *latency* s."""
    results: dict[tuple[str, str], list[Trial]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # The real server's 3 s throttle of 409s: a handover that caused one would show.
        async with spawn_fake_bot_api(conflict_delay=3.0, latency=latency) as fake:
            for (kind, scenario), (full, few) in TRIALS.items():
                if only and kind not in only:
                    continue
                workdir = Path(tmp) / f"{kind}-{scenario}"
                workdir.mkdir()
                started = time.monotonic()
                trials = await run_chain(
                    kind, scenario, few if quick else full, fake.base_url, workdir
                )
                results[(kind, scenario)] = trials
                took = time.monotonic() - started
                print(
                    f"{LABELS[kind]} {scenario} at {latency * 1000:.0f} ms: {len(trials)} trials"
                    f" in {took:.0f} s",
                    flush=True,
                )
            stats = await fake.stats()
    overlap = max((t.max_concurrent_get_updates for t in stats.tokens.values()), default=0)
    report(results, stats.conflicts_total, overlap, latency)


if __name__ == "__main__":
    asyncio.run(main())
