"""Claims at a handover: the old leader's unfinished updates, held back by the next one.

The multi-process test (tests/multiprocess/test_slow_handler_handover.py) shows the whole
handover once; these pin each step on a real database: who sees a claim, when it ends,
what is released, and what the next leader's tracker does with a claimed update.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from safe_polling._delivery import DeliveryTracker, ProcessedUpdates
from safe_polling.db import BalanceStore

from .conftest import eventually

BOT = 778
LIVE = 30.0  # a claim that runs for the whole test
ENDED = -1.0  # a claim whose time ran out a second ago
WAIT = 10.0  # bound on functional waits, never a speed claim
CLAIM_CHECK = 0.25  # how often the next leader looks at claimed updates again


@pytest.fixture
async def old(sqlite_store: BalanceStore) -> ProcessedUpdates:
    """The record as the previous leader (one process) sees it."""
    record = ProcessedUpdates(sqlite_store, bot_id=BOT)
    await record.open()
    return record


@pytest.fixture
async def new(sqlite_store: BalanceStore) -> ProcessedUpdates:
    """The record as the next leader (another process) sees it."""
    record = ProcessedUpdates(sqlite_store, bot_id=BOT)
    await record.open()
    return record


@pytest.fixture
def requeued() -> list[dict[str, Any]]:
    """The updates the tracker handed back to the application."""
    return []


@pytest.fixture
async def tracker(
    new: ProcessedUpdates, requeued: list[dict[str, Any]]
) -> AsyncIterator[DeliveryTracker]:
    """The next leader's tracker (term 2)."""
    the_tracker = DeliveryTracker(new, term=2)
    the_tracker.requeue = requeued.append
    yield the_tracker
    await the_tracker.aclose()


def updates(*ids: int) -> list[dict[str, Any]]:
    return [{"update_id": uid, "message": {"text": f"m{uid}"}} for uid in ids]


def ids_of(items: list[dict[str, Any]]) -> list[int]:
    return [int(u["update_id"]) for u in items]


async def claims(store: BalanceStore) -> dict[int, tuple[str, int]]:
    """update id -> (owner, term) of every claim in the table."""
    rows = await store.fetch_all(
        "SELECT update_id, owner, term FROM safe_polling_claimed_updates WHERE bot_id = $1", BOT
    )
    return {int(r["update_id"]): (str(r["owner"]), int(r["term"])) for r in rows}


# -- the record ------------------------------------------------------------------------


async def test_a_claim_holds_an_update_back_from_other_processes_only(
    old: ProcessedUpdates, new: ProcessedUpdates
) -> None:
    await old.claim([5, 6], term=1, seconds=LIVE)
    assert await new.state_among([4, 5, 6, 7]) == (set(), {5, 6})
    assert await old.state_among([5, 6]) == (set(), set())  # its own claims hold nothing
    await old.mark([5])  # its handler finished: handled, not claimed any more
    assert await new.state_among([5, 6]) == ({5}, {6})
    assert await new.state_among([]) == (set(), set())


async def test_a_claim_whose_time_ran_out_holds_nothing_back(
    old: ProcessedUpdates, new: ProcessedUpdates
) -> None:
    await old.claim([5], term=1, seconds=ENDED)
    await old.claim([6], term=1, seconds=LIVE)
    assert await new.state_among([5, 6]) == (set(), {6})


async def test_claiming_nothing_writes_nothing(old: ProcessedUpdates) -> None:
    await old.claim([], term=1, seconds=LIVE)
    assert await claims(old.store) == {}


async def test_a_second_claim_of_an_update_replaces_the_first(
    old: ProcessedUpdates, new: ProcessedUpdates
) -> None:
    await old.claim([5], term=1, seconds=LIVE)
    await new.claim([5], term=2, seconds=LIVE)
    assert await claims(old.store) == {5: (new.owner, 2)}
    assert await old.state_among([5]) == (set(), {5})


async def test_releasing_drops_this_processs_claims_and_any_that_ran_out(
    old: ProcessedUpdates, new: ProcessedUpdates, sqlite_store: BalanceStore
) -> None:
    third = ProcessedUpdates(sqlite_store, bot_id=BOT)
    await old.claim([5], term=1, seconds=LIVE)
    await new.claim([6], term=2, seconds=ENDED)
    await third.claim([7], term=3, seconds=LIVE)
    await old.release_claims()
    assert await claims(sqlite_store) == {7: (third.owner, 3)}


# -- the next leader's tracker ---------------------------------------------------------


async def test_a_claimed_update_is_held_until_its_claimant_records_it(
    old: ProcessedUpdates, tracker: DeliveryTracker, requeued: list[dict[str, Any]]
) -> None:
    await old.claim([11], term=1, seconds=LIVE)
    assert ids_of(await tracker.accept(updates(10, 11, 12))) == [10, 12]
    tracker.handled(10)
    tracker.handled(12)
    assert tracker.offset(13) == 11  # held: neither handled here nor confirmed
    await asyncio.sleep(2 * CLAIM_CHECK)  # the next leader looks again, and keeps holding it
    assert requeued == []
    assert tracker.offset(13) == 11
    await old.mark([11])
    await eventually(lambda: tracker.offset(13) == 13)
    assert requeued == []
    assert tracker.skipped_duplicates == 1


async def test_a_claimed_update_left_unrecorded_is_handled_here(
    old: ProcessedUpdates, tracker: DeliveryTracker, requeued: list[dict[str, Any]]
) -> None:
    await old.claim([11, 12], term=1, seconds=LIVE)
    assert ids_of(await tracker.accept(updates(10, 11, 12))) == [10]
    await old.mark([12])
    await old.release_claims()  # the old leader ran out of time with 11 unfinished
    await eventually(lambda: requeued)
    assert ids_of(requeued) == [11]
    assert tracker.offset(13) == 10
    tracker.handled(10)
    assert tracker.offset(13) == 11  # requeued to PTB, so still in flight here
    tracker.handled(11)
    assert tracker.offset(13) == 13
    assert tracker.skipped_duplicates == 1


async def test_updates_claimed_in_two_polls_are_all_watched(
    old: ProcessedUpdates, tracker: DeliveryTracker, requeued: list[dict[str, Any]]
) -> None:
    await old.claim([11, 13], term=1, seconds=LIVE)
    assert ids_of(await tracker.accept(updates(10, 11))) == [10]
    assert ids_of(await tracker.accept(updates(12, 13))) == [12]
    await old.release_claims()
    await eventually(lambda: len(requeued) == 2)
    assert sorted(ids_of(requeued)) == [11, 13]


async def test_without_a_way_to_requeue_a_claimed_update_is_handled_at_once(
    old: ProcessedUpdates, new: ProcessedUpdates
) -> None:
    await old.claim([11], term=1, seconds=LIVE)
    tracker = DeliveryTracker(new)
    try:
        assert ids_of(await tracker.accept(updates(10, 11))) == [10, 11]
    finally:
        await tracker.aclose()


async def test_a_leader_handing_over_claims_what_it_has_not_recorded(
    old: ProcessedUpdates, new: ProcessedUpdates, tracker: DeliveryTracker
) -> None:
    await old.claim([4], term=1, seconds=LIVE)  # held here: the old leader's, not ours
    assert ids_of(await tracker.accept(updates(1, 2, 3, 4))) == [1, 2, 3]
    tracker.handled(1)
    await tracker.record_handled()
    tracker.handled(2)  # handled, not yet written by the recorder
    assert await tracker.claim_unrecorded(LIVE) == 2
    assert await claims(new.store) == {2: (new.owner, 2), 3: (new.owner, 2), 4: (old.owner, 1)}


async def test_closing_while_an_update_is_held_stops_watching_it(
    old: ProcessedUpdates, new: ProcessedUpdates, requeued: list[dict[str, Any]]
) -> None:
    await old.claim([11], term=1, seconds=LIVE)
    tracker = DeliveryTracker(new, term=2)
    tracker.requeue = requeued.append
    assert ids_of(await tracker.accept(updates(10, 11))) == [10]
    watch = tracker._claim_watch
    assert watch is not None
    async with asyncio.timeout(WAIT) as closing:  # the leadership ended: stop waiting
        await tracker.aclose()
    assert not closing.expired(), "aclose() waited for the held update"
    assert watch.done()  # stopped by aclose itself, not left to stop later
    await old.release_claims()
    await asyncio.sleep(3 * CLAIM_CHECK)  # time for a watch left running to requeue it
    assert requeued == []


class CountedRecord(ProcessedUpdates):
    """The real record, counting the state queries."""

    queries = 0

    async def state_among(self, update_ids: list[int]) -> tuple[set[int], set[int]]:
        self.queries += 1
        return await super().state_among(update_ids)


async def test_a_held_update_is_looked_at_again_at_a_steady_pace(
    old: ProcessedUpdates, sqlite_store: BalanceStore, requeued: list[dict[str, Any]]
) -> None:
    await old.claim([11], term=1, seconds=LIVE)
    record = CountedRecord(sqlite_store, bot_id=BOT)
    tracker = DeliveryTracker(record, term=2)
    tracker.requeue = requeued.append
    try:
        assert ids_of(await tracker.accept(updates(11))) == []
        await asyncio.sleep(3 * CLAIM_CHECK)
        # One query in accept, then one per check: not a flood of the database.
        assert record.queries <= 5, f"{record.queries} queries in {3 * CLAIM_CHECK} s"
    finally:
        await tracker.aclose()
