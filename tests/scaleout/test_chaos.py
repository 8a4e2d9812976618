"""Chaos with scale-out: replicas killed, Redis restarted, no update lost, doubled or reordered.

Three replicas of ``tests/scaleout/_bot.py`` share one fake Telegram (its own
process), a Redis Streams queue on a private ``redis-server`` started here (AOF
on, ``appendfsync always``), the Redis lease on the shared server and one
PostgreSQL schema; a supervisor restarts any replica that dies. While 2,000
updates arrive from 50 chats (each ``<chat>#<seq>``), replicas are SIGKILLed
ten times (the poller every other time) and SIGTERMed twice, and the private
Redis is SIGKILLed and restarted once. Afterwards: every update handled, each
effect once, every chat's handlers started in sequence order, no 409, and every
chat's persistent conversation in its final state.

The run is seeded (``CHAOS_SEED`` to replay one); the seed is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.scaleout._checks import (
    assert_in_order,
    conversation_states,
    ledger_counts,
    runs_by_chat,
)

from chaos._fleet import Fleet
from multiprocess._harness import POLLING, wait_until
from safe_polling.testing import FakeBotAPIClient, make_token, spawn_fake_bot_api

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

BOT = Path(__file__).with_name("_bot.py")
CHATS = [5000 + n for n in range(50)]
PER_CHAT = 40  # 50 x 40 = 2,000 updates
RATE = 25.0  # updates per second: the injection lasts about 80 s
REPLICAS = 3
SIGKILLS = 10
SIGTERMS = 2


class PrivateRedis:
    """A redis-server of this test only (never the shared one), restartable on its port."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
            ],
            stdout=log,
            stderr=log,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            if time.monotonic() > deadline:
                raise AssertionError("private redis-server did not start")
            time.sleep(0.05)

    def crash(self) -> None:
        """SIGKILL: nothing flushed beyond what appendfsync always already wrote."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.crash()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    server = PrivateRedis(redis_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def inject(fake: FakeBotAPIClient) -> list[int]:
    """Every chat's sequence, interleaved, at RATE per second; return the update ids."""
    ids = []
    start = time.monotonic()
    texts = [(chat, f"{chat}#{seq}") for seq in range(PER_CHAT) for chat in CHATS]
    for n, (chat, text) in enumerate(texts):
        await asyncio.sleep(max(0.0, start + n / RATE - time.monotonic()))
        update = await fake.inject_message(chat, text)
        ids.append(int(update["update_id"]))
    return ids


async def chaos(fleet: Fleet, redis: PrivateRedis, rng: random.Random) -> list[str]:
    """SIGKILL (every other one at the poller) and SIGTERM replicas; crash Redis once."""
    plan: list[signal.Signals | str] = [signal.SIGKILL] * SIGKILLS + [signal.SIGTERM] * SIGTERMS
    rng.shuffle(plan)
    plan.insert(rng.randrange(3, len(plan) - 2), "redis")
    done = []
    for n, action in enumerate(plan):
        await asyncio.sleep(rng.uniform(3.0, 5.0))
        if action == "redis":
            redis.crash()
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            redis.start()
            done.append("redis restarted")
            continue
        if n % 2 == 0:
            target = await fleet.leader()
        else:
            await wait_until(lambda: any(i.alive and not i.sent for i in fleet.slots), 30, "one")
            target = rng.choice([i for i in fleet.slots if i.alive and not i.sent])
        role = "poller" if target.leading else "worker"
        target.send(action)
        done.append(f"{action.name} {target.name} ({role})")
    return done


async def queue_report(url: str) -> str:
    """Per partition: entries left and pending (read, not acknowledged); dead letters."""
    from redis.asyncio import Redis

    client = Redis.from_url(url, decode_responses=True)
    try:
        streams = sorted([k async for k in client.scan_iter(match="safe-polling:queue:*:s:*")])
        parts = []
        for key in streams:
            pending = await client.xpending(key, "workers")
            parts.append(f"{key.rsplit(':', 1)[1]}: {await client.xlen(key)}/{pending['pending']}")
        dead = [k async for k in client.scan_iter(match="safe-polling:queue:*:dead")]
        dead_count = await client.xlen(dead[0]) if dead else 0
        return f"queue left/pending {', '.join(parts)}; dead letters {dead_count}"
    finally:
        await client.aclose()


@pytest.mark.timeout(180)
async def test_scaled_out_bot_survives_kills_and_a_redis_restart(
    pg_url: str, private_redis: PrivateRedis, redis_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(2**32)))
    print(f"\nchaos seed: {seed} (replay with CHAOS_SEED={seed})")
    rng = random.Random(seed)
    token = make_token()
    name = f"chaos-{uuid.uuid4().hex[:10]}"
    async with spawn_fake_bot_api(token=token, conflict_delay=0.2) as fake:
        env = {
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_BASE_URL": fake.base_url,
            "DATABASE_URL": pg_url,
            "SAFE_POLLING_QUEUE": private_redis.url,
            "SAFE_POLLING_QUEUE_NAME": name,
            "SAFE_POLLING_LEASE": "redis",
            "SAFE_POLLING_REDIS_URL": redis_url,
            "SAFE_POLLING_LEASE_NAME": name,
        }
        fleet = Fleet(tmp_path, env, REPLICAS, bot=BOT)
        supervisor = asyncio.ensure_future(fleet.supervise())
        try:
            await wait_until(lambda: POLLING in "".join(i.log() for i in fleet.slots), 60, "poll")
            injecting = asyncio.ensure_future(inject(fake))
            actions = await chaos(fleet, private_redis, rng)
            ids = await injecting
            print("chaos:", "; ".join(actions))
            want = {f"u:{uid}" for uid in ids}
            try:
                async with asyncio.timeout(70):
                    while not want <= set(await ledger_counts(pg_url)):
                        await asyncio.sleep(0.25)
                    while (await fake.stats()).for_token(token).pending_count:
                        await asyncio.sleep(0.25)
            except TimeoutError:
                missing = len(want - set(await ledger_counts(pg_url)))
                queue = await queue_report(private_redis.url)
                raise AssertionError(
                    f"{missing} update(s) without effect; {queue}\n{fleet.report()}"
                ) from None
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
            await fleet.stop_all()
            stats = (await fake.stats()).for_token(token)
        finally:
            supervisor.cancel()
            fleet.kill_all()
    report = fleet.report()
    runs = await runs_by_chat(pg_url)
    handled = {uid for chat_runs in runs.values() for _, uid, _ in chat_runs}
    rerun = sum(len(chat_runs) for chat_runs in runs.values()) - len(handled)
    print(f"updates {len(ids)}, re-run after a kill {rerun}, replicas {len(fleet.everyone)}")
    assert len(ids) == len(CHATS) * PER_CHAT
    assert handled == set(ids), report  # every update handled
    assert await ledger_counts(pg_url) == dict.fromkeys(want, 1), report  # effects once
    assert_in_order(runs, PER_CHAT)
    assert await conversation_states(pg_url) == dict.fromkeys(CHATS, PER_CHAT), report
    assert stats.conflicts_total == 0, report
    assert sum(e.sent is signal.SIGKILL for e in fleet.exits) == SIGKILLS, report
    assert sum(e.sent is signal.SIGTERM for e in fleet.exits) >= SIGTERMS, report
    assert all(e.expected for e in fleet.exits), report
