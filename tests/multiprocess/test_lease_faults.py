"""The lease backend fails under a running leader: it steps down, and exactly one leads after.

Faults: a real PostgreSQL restart, ``pg_terminate_backend`` of the leader's lease session,
and deleting the Redis lease key. The leader must notice, stop polling and stand by again
(not exit); afterwards exactly one instance polls, with no 409 from then on.
"""

from __future__ import annotations

import time

import asyncpg
import pytest
from redis.asyncio import Redis

from safe_polling.lease import PostgresLease, RedisLease

from . import _pgctl
from ._harness import FENCED, LEADER, LOST, POLLING, STANDBY, Fleet, Instance, wait_until
from .conftest import Bot, FleetFactory


def _stepped_down(instance: Instance) -> bool:
    return instance.has(LOST) or instance.has(FENCED)


async def _one_leader_after(bot: Bot, group: Fleet, since: float) -> Instance:
    """Wait for a leader that took the lease after *since*; check it alone polls from then."""

    def last(instance: Instance, marker: str) -> float:
        times = [e["t"] for e in instance.events("log") if marker in e["msg"] and e["t"] >= since]
        return max(times, default=0.0)

    def leaders() -> list[Instance]:
        # Leading now: started polling after the fault and did not step down since. A
        # restart can move the lease more than once (both lease sessions are cut), and
        # an old leader may log its step-down a moment after the new one logs its start.
        return [
            i for i in group.alive if last(i, POLLING) > max(last(i, LOST), last(i, FENCED), 0.0)
        ]

    await wait_until(lambda: len(leaders()) == 1, 40, "exactly one instance to lead again")
    await bot.fake.reset_stats()  # counters from here on only (tests run one at a time)
    (leader,) = leaders()
    update_id = await bot.inject("after the fault")
    await bot.wait_handled(update_id)
    settled = time.time()
    await leader.wait_polls(2, after=settled)
    pollers = [i for i in group.alive if any(e["t0"] >= settled for e in i.get_updates())]
    assert pollers == [leader], group.report()
    assert await bot.stats() == (1, 0), group.report()
    return leader


def _lease_name(group: Fleet) -> str:
    return group.env["SAFE_POLLING_LEASE_NAME"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.destructive
async def test_postgres_restart_makes_the_leader_step_down_and_one_lead_after(
    bot: Bot, make_fleet: FleetFactory
) -> None:
    group = make_fleet("postgres")
    started = group.start(2)
    leader = await group.wait_roles(started)
    with _pgctl.kept_up():
        restarted = time.time()
        _pgctl.restart()
    await wait_until(lambda: _stepped_down(leader), 20, "the leader to step down")
    await _one_leader_after(bot, group, restarted)
    codes = await group.stop_all()
    assert set(codes.values()) == {0}, group.report()  # nobody crashed on the way


@pytest.mark.slow
@pytest.mark.postgres
async def test_terminating_the_lease_session_makes_the_leader_step_down(
    bot: Bot, make_fleet: FleetFactory, pg_dsn: str
) -> None:
    group = make_fleet("postgres")
    started = group.start(2)
    leader = await group.wait_roles(started)
    holder = await PostgresLease(pg_dsn, bot_id=bot.token, name=_lease_name(group)).holder()
    assert holder is not None
    assert holder.pid == leader.pid, holder
    backend_pid = int(holder.backend_id.split()[0].removeprefix("backend_pid="))
    admin = await asyncpg.connect(pg_dsn, timeout=10)
    try:
        terminated = time.time()
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend_pid)
    finally:
        await admin.close()
    await wait_until(lambda: _stepped_down(leader), 20, "the leader to step down")
    await _one_leader_after(bot, group, terminated)
    codes = await group.stop_all()
    assert set(codes.values()) == {0}, group.report()


@pytest.mark.slow
@pytest.mark.redis
async def test_deleting_the_redis_key_makes_the_leader_step_down(
    bot: Bot, make_fleet: FleetFactory, redis_url: str
) -> None:
    # Renewals every 60 s: the lease's own loss detection cannot fire within this test, so
    # the step-down must come from the fence before each getUpdates.
    group = make_fleet("redis", MP_REDIS_RENEW_INTERVAL="60")
    started = group.start(2)
    leader = await group.wait_roles(started)
    await leader.wait_polls(1)
    key = RedisLease(redis_url, bot_id=bot.token, name=_lease_name(group)).key
    client = Redis.from_url(redis_url)
    try:
        deleted = time.time()
        assert await client.delete(key) == 1
    finally:
        await client.aclose()
    # The leader's fence (before each getUpdates) finds the key gone within one long poll.
    await wait_until(lambda: leader.has(FENCED), 20, "the leader's fence to close")
    fenced = leader.log_time(FENCED, after=deleted)
    assert fenced is not None, group.report()
    # The runner's "lost" line follows the fence's, never precedes it (a renewal noticing
    # the deleted key first would log it alone).
    lost = leader.log_time(LOST, after=deleted)
    assert lost is None or lost >= fenced, group.report()
    # Once its step-down is over (a request is recorded when it ends), no getUpdates went
    # out past the closed fence until this instance led again.
    await wait_until(
        lambda: bool(leader.log_time(LEADER, after=fenced) or leader.log_time(STANDBY, fenced)),
        20,
        "the fenced leader to step down",
    )
    led_again = leader.log_time(LEADER, after=fenced) or float("inf")
    late = [e for e in leader.get_updates() if fenced <= e["t0"] < led_again]
    assert late == [], group.report()
    await _one_leader_after(bot, group, deleted)
    codes = await group.stop_all()
    assert set(codes.values()) == {0}, group.report()
    assert sum(i.count(LEADER) for i in started) >= 2  # the lease was taken again
