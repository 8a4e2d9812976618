"""Takeover after the leader dies (kill -9), stops (SIGTERM) or is replaced by a deploy.

Every scenario ends with the fake having seen at most one getUpdates at a time and no 409,
and with exactly one instance polling.
"""

from __future__ import annotations

import signal

import pytest

from ._harness import LEADER, POLLING, Instance, wait_until
from .conftest import Bot, FleetFactory

KINDS = ["postgres", "redis", "file"]


def _new_leader(among: list[Instance]) -> list[Instance]:
    return [i for i in among if i.has(LEADER)]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
async def test_kill_9_of_the_leader_hands_polling_to_one_standby(
    bot: Bot, make_fleet: FleetFactory, kind: str
) -> None:
    group = make_fleet(kind)
    started = group.start(3)
    leader = await group.wait_roles(started)
    standbys = [i for i in started if i is not leader]
    leader.kill()
    # Redis cannot tell a crash from a pause: the standby waits out the key's TTL (10 s).
    await wait_until(lambda: len(_new_leader(standbys)) > 0, 30, "a standby to take over")
    (heir,) = _new_leader(standbys)  # exactly one, and it polls and handles updates
    await heir.wait_for(POLLING)
    update_id = await bot.inject("after the crash")
    await bot.wait_handled(update_id)
    codes = await group.stop_all()

    report = group.report()
    assert await bot.stats() == (1, 0), report
    assert group.handled() == {update_id: 1}, report
    assert codes[leader.name] == -signal.SIGKILL
    assert [codes[i.name] for i in standbys] == [0, 0], report


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
async def test_sigterm_hands_over_without_409_and_without_losing_an_update(
    bot: Bot, make_fleet: FleetFactory, kind: str
) -> None:
    group = make_fleet(kind)
    started = group.start(2)
    old = await group.wait_roles(started)
    (new,) = [i for i in started if i is not old]
    before = await bot.inject("before")
    await bot.wait_handled(before)

    old.signal(signal.SIGTERM)
    during = [await bot.inject("during the handover")]  # sent while the old one stops
    await wait_until(lambda: not old.alive or new.has(LEADER), 20, "the handover to start")
    during.append(await bot.inject("while the lease changes hands"))
    assert await old.wait_exit() == 0, group.report()
    await new.wait_for(POLLING)
    during.append(await bot.inject("after the handover"))
    for update_id in during:
        await bot.wait_handled(update_id)
    await group.stop_all()

    report = group.report()
    assert await bot.stats() == (1, 0), report
    # Every update handled exactly once, by whichever instance held the lease.
    assert group.handled() == dict.fromkeys([before, *during], 1), report
    assert sorted(await bot.replies()) == sorted(f"handled {u}" for u in [before, *during])
    # The new leader's first getUpdates went out after the old one's last had ended.
    assert new.get_updates()[0]["t0"] >= old.get_updates()[-1]["t1"], report


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
async def test_deploy_overlap_new_beside_old_then_sigterm_then_sigkill_after_grace(
    bot: Bot, make_fleet: FleetFactory, kind: str
) -> None:
    """Render's zero-downtime deploy, shortened: overlap, SIGTERM, SIGKILL after the grace."""
    group = make_fleet(kind)
    (old,) = group.start(1)
    await old.wait_for(POLLING)
    (new,) = group.start(1)
    await new.wait_for("standing by")
    overlap_update = await bot.inject("during the overlap")
    await bot.wait_handled(overlap_update)
    await old.wait_polls(2, after=new.log_time("standing by") or 0.0)  # the overlap goes on

    old.signal(signal.SIGTERM)
    grace = 5.0  # Render's maxShutdownDelaySeconds, shortened
    try:
        await wait_until(lambda: not old.alive, grace, "the old instance to exit")
    except AssertionError:
        old.kill()  # what the platform does after the grace
    await new.wait_for(POLLING)
    after = await bot.inject("after the deploy")
    await bot.wait_handled(after)
    await group.stop_all()

    report = group.report()
    assert old.proc.returncode == 0, report  # it finished within the grace
    assert await bot.stats() == (1, 0), report
    assert group.handled() == {overlap_update: 1, after: 1}, report
