"""A deploy's handover does not wait for slow handlers, and still handles each update once."""

from __future__ import annotations

import time

import pytest

from ._harness import POLLING, STANDBY, Fleet, Instance
from .conftest import Bot, FleetFactory

SKIPPED = "↩️ Skipped 1 re-delivered update(s) already handled"


async def slow_update_in_flight(
    bot: Bot, group: Fleet, text: str
) -> tuple[Instance, Instance, int]:
    """A leader handling a slow update, and a standby with quick handlers: (old, new, id)."""
    (old,) = group.start(1)
    await old.wait_for(POLLING, timeout=30)
    (new,) = group.start(1, MP_HANDLER_DELAY="0")  # a quick handler shows it polls meanwhile
    await new.wait_for(STANDBY, timeout=30)
    slow = await bot.inject(text)
    # The poll that returned it ended, and the next began: PTB has it, its handler runs.
    await old.wait_polls(2, after=time.time())
    return old, new, slow


@pytest.mark.slow
async def test_a_20_s_handler_in_flight_at_sigterm_is_handled_once_while_the_new_leader_polls(
    bot: Bot, make_fleet: FleetFactory
) -> None:
    # At-least-once delivery (the PostgreSQL lease's database keeps the records), each
    # update taking 20 s like a KIE generation, within a 30 s shutdown budget.
    group = make_fleet("postgres", MP_HANDLER_DELAY="20", MP_SHUTDOWN_TIMEOUT="30")
    old, new, slow = await slow_update_in_flight(bot, group, "a 20 s generation")

    old.signal(15)  # SIGTERM, as a deploy sends it
    await new.wait_for(POLLING, timeout=15)
    after = await bot.inject("sent after the handover")
    await bot.wait_handled(slow, timeout=40)
    await bot.wait_handled(after, timeout=40)
    assert await old.wait_exit(timeout=40) == 0, group.report()
    await new.wait_for(SKIPPED, timeout=20)  # the new leader saw it re-delivered, recorded
    await group.stop_all(timeout=60)

    report = group.report()
    handled = {e["update_id"]: e["t"] for i in group.instances for e in i.events("handled")}
    assert group.handled() == {slow: 1, after: 1}, report
    (slow_by,) = [
        i for i in group.instances if slow in {e["update_id"] for e in i.events("handled")}
    ]
    assert slow_by is old, report
    # The new leader polled, and handled a later update, while the slow handler still ran.
    assert new.get_updates()[0]["t0"] < handled[slow], report
    assert handled[after] < handled[slow], report
    assert new.get_updates()[0]["t0"] >= old.get_updates()[-1]["t1"], report
    assert await bot.stats() == (1, 0), report


@pytest.mark.slow
async def test_an_update_claimed_by_a_leader_killed_after_the_handover_is_handled_by_the_next(
    bot: Bot, make_fleet: FleetFactory
) -> None:
    # The old leader claims its in-flight update for its 5 s budget, hands over, then dies
    # (the platform's SIGKILL) before its 20 s handler ends: the claim runs out unrecorded.
    group = make_fleet("postgres", MP_HANDLER_DELAY="20", MP_SHUTDOWN_TIMEOUT="5")
    old, new, slow = await slow_update_in_flight(bot, group, "a generation cut short")

    old.signal(15)
    await old.wait_for("📌 Claimed 1 update(s)", timeout=15)
    old.kill()
    await new.wait_for("⏳ 1 update(s) still being handled by the previous leader", timeout=15)
    await bot.wait_handled(slow, timeout=30)
    await group.stop_all(timeout=30)

    report = group.report()
    assert group.handled() == {slow: 1}, report
    assert [e["update_id"] for e in new.events("handled")] == [slow], report
    assert new.has("↪️ Update"), report
    assert await bot.stats() == (1, 0), report
