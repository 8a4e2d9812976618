"""Exactly one poller across processes: three instances started at once, many times over.

Each round starts three real processes of one bot at the same moment, against one fake Bot
API and one real lease backend. Exactly one may ever call getUpdates: the fake must see at
most one getUpdates at a time and not a single 409, and the two standbys must never have sent
one. Zero 409s is only possible if the standbys never poll at all: that is the property.
"""

from __future__ import annotations

import pytest

from ._harness import LEADER
from .conftest import Bot, FleetFactory

# Issue: "3 instances started at once, repeated at least 20 times". PostgreSQL (the default
# backend on Render) gets 20 rounds on its own; Redis and file locks fewer, to stay in budget.
ROUNDS = {"postgres": 20, "redis": 8, "file": 8}
CASES = [(kind, n) for kind, rounds in ROUNDS.items() for n in range(rounds)]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "round_"), CASES, ids=[f"{k}-{n:02d}" for k, n in CASES])
async def test_three_instances_started_at_once_poll_one_at_a_time(
    bot: Bot, make_fleet: FleetFactory, kind: str, round_: int
) -> None:
    group = make_fleet(kind)
    started = group.start(3)
    leader = await group.wait_roles(started)  # one leader line, two standby lines
    standbys = [i for i in started if i is not leader]
    # Both standbys stand by now; an update must go to the leader, handled exactly once.
    update_id = await bot.inject(f"round {round_}")
    await bot.wait_handled(update_id)
    # While the leader leads, the standbys have not sent a single getUpdates.
    assert [i.get_updates() for i in standbys] == [[], []], group.report()
    codes = await group.stop_all()

    report = group.report()
    assert await bot.stats() == (1, 0), report  # (max concurrent getUpdates, 409s)
    # On the way out a standby may take the lease the leader released, and poll: only
    # after it logged its own leadership.
    for standby in standbys:
        polls = standby.get_updates()
        if polls:
            became_leader = standby.log_time(LEADER)
            assert became_leader is not None, report
            assert min(e["t0"] for e in polls) >= became_leader, report
    assert group.handled() == {update_id: 1}, report
    assert set(codes.values()) == {0}, report
