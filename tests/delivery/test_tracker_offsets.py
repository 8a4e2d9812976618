"""The delivery tracker's exact offsets and the durable record, on real databases.

An offset one too high confirms an update nobody handled; one too low makes Telegram
send a handled update again. The fake Bot API forgives neither silently, but these
tests pin the exact value the tracker sends, update by update, and the paths of the
durable record that the end-to-end tests rarely reach: writes split into several
INSERTs, the periodic prune, and the recorder's retry after a database error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import pytest
from telegram import Update
from telegram.ext import ApplicationBuilder, SimpleUpdateProcessor

from safe_polling import metrics_registry
from safe_polling._delivery import (
    DeliveryTracker,
    ProcessedUpdates,
    TrackingUpdateProcessor,
    encode_updates,
    filter_payload,
    install_tracking,
    remove_tracking,
)
from safe_polling.db import BalanceStore, open_balance_store

from .conftest import eventually

BOT = 777
# Telegram keeps unconfirmed updates for 24 h; the record keeps twice that. Written out
# here, not imported, so that a changed retention fails this test.
RETENTION = 48 * 3600


def updates(*ids: int) -> list[dict[str, object]]:
    return [{"update_id": uid, "message": {"text": f"m{uid}"}} for uid in ids]


def ids_of(items: list[dict[str, object]]) -> list[object]:
    return [u["update_id"] for u in items]


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[BalanceStore]:
    async with open_balance_store(pg_url) as store:
        yield store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> BalanceStore:
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    found = request.getfixturevalue(name)
    assert isinstance(found, BalanceStore)
    return found


@pytest.fixture
async def processed(sqlite_store: BalanceStore) -> ProcessedUpdates:
    record = ProcessedUpdates(sqlite_store, bot_id=BOT)
    await record.open()
    return record


@pytest.fixture
async def tracker(processed: ProcessedUpdates) -> AsyncIterator[DeliveryTracker]:
    the_tracker = DeliveryTracker(processed)
    yield the_tracker
    await the_tracker.aclose()


async def recorded(store: BalanceStore, bot_id: int = BOT) -> set[int]:
    rows = await store.fetch_all(
        "SELECT update_id FROM safe_polling_processed_updates WHERE bot_id = $1", bot_id
    )
    return {int(r["update_id"]) for r in rows}


# -- the offset, exactly ----------------------------------------------------------------


async def test_a_fresh_tracker_sends_what_ptb_asks(tracker: DeliveryTracker) -> None:
    assert tracker.offset(0) == 0
    assert tracker.offset(5) == 5


async def test_the_offset_stays_at_the_oldest_update_not_yet_handled(
    tracker: DeliveryTracker,
) -> None:
    assert ids_of(await tracker.accept(updates(10, 11, 12))) == [10, 11, 12]
    assert tracker.offset(13) == 10  # PTB would confirm all three: none is handled
    tracker.handled(11)
    assert tracker.offset(13) == 10  # finished out of order: 10 still holds it back
    tracker.handled(10)
    assert tracker.offset(13) == 12
    tracker.handled(12)
    assert tracker.offset(13) == 13
    # Once nothing is in flight, never below what was seen, whatever PTB asks.
    assert tracker.offset(0) == 13
    assert tracker.offset(11) == 13
    assert tracker.offset(20) == 20


async def test_updates_already_seen_are_not_given_to_ptb_again(tracker: DeliveryTracker) -> None:
    assert ids_of(await tracker.accept(updates(10, 11))) == [10, 11]
    # Telegram re-sends 10 and 11 (not confirmed yet) together with 12.
    assert ids_of(await tracker.accept(updates(10, 11, 12))) == [12]
    assert tracker.offset(13) == 10
    tracker.handled(10)
    tracker.handled(11)
    tracker.handled(12)
    assert ids_of(await tracker.accept(updates(12))) == []
    assert tracker.offset(13) == 13


async def test_updates_handled_by_another_instance_are_skipped(
    processed: ProcessedUpdates, tracker: DeliveryTracker
) -> None:
    skipped = "safe_polling_updates_skipped_total"
    before = metrics_registry().get_sample_value(skipped) or 0.0
    await processed.mark([20, 22])  # a previous leader handled these before it died
    assert ids_of(await tracker.accept(updates(20, 21, 22, 23))) == [21, 23]
    assert tracker.skipped_duplicates == 2
    assert metrics_registry().get_sample_value(skipped) == before + 2
    assert tracker.offset(24) == 21
    tracker.handled(21)
    tracker.handled(23)
    assert tracker.offset(24) == 24


async def test_an_unknown_update_id_changes_nothing(tracker: DeliveryTracker) -> None:
    await tracker.accept(updates(5))
    tracker.handled(99)
    assert tracker.offset(6) == 5
    await tracker.record_handled()
    assert await recorded(tracker.processed.store) == set()


async def test_record_handled_writes_only_handled_updates_and_forgets_them(
    tracker: DeliveryTracker,
) -> None:
    await tracker.accept(updates(1, 2, 3))
    tracker.handled(1)
    tracker.handled(3)
    await tracker.record_handled()
    assert await recorded(tracker.processed.store) == {1, 3}
    assert tracker.offset(4) == 2
    assert await tracker.processed.handled_among([1, 2, 3]) == {1, 3}
    tracker.handled(2)
    await tracker.aclose()  # records what is handled on the way out
    assert await recorded(tracker.processed.store) == {1, 2, 3}
    assert tracker.offset(4) == 4


async def test_handled_updates_are_recorded_without_waiting_for_a_poll(
    tracker: DeliveryTracker,
) -> None:
    await tracker.accept(updates(7, 8))
    tracker.handled(8)
    await eventually(lambda: _has(tracker, 8))
    assert await recorded(tracker.processed.store) == {8}


async def test_closing_an_idle_recorder_stops_it(tracker: DeliveryTracker) -> None:
    await tracker.accept(updates(1))
    tracker.handled(1)
    await eventually(lambda: _has(tracker, 1))
    recorder = tracker._recorder
    assert recorder is not None
    await tracker.aclose()
    assert recorder.done()  # stopped by aclose itself, not left to stop later


async def _has(tracker: DeliveryTracker, update_id: int) -> bool:
    return update_id in await recorded(tracker.processed.store)


async def test_closing_right_after_an_update_finishes_does_not_hang(
    tracker: DeliveryTracker,
) -> None:
    """Shutdown as the last handler returns: the recorder must still stop.

    On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives just as the
    awaited event is set, and the recorder then waited forever for the next change.
    """
    await tracker.accept(updates(1, 2))
    tracker.handled(1)  # starts the recorder, which now waits for more to finish
    # Until the recorder is parked on its event (inside its coalescing wait).
    await eventually(lambda: tracker._changed._waiters)
    tracker.handled(2)  # sets the event ...
    closing = asyncio.ensure_future(tracker.aclose())  # ... and cancels, in one step
    done, _ = await asyncio.wait({closing}, timeout=10)
    if not done:
        assert tracker._recorder is not None
        tracker._recorder.cancel()  # let the test end
        await closing
    assert done, "aclose() hung: the recorder lost its cancellation"
    assert await recorded(tracker.processed.store) == {1, 2}


async def test_a_poll_bringing_back_only_updates_in_flight_waits_for_one_to_finish(
    tracker: DeliveryTracker,
) -> None:
    await tracker.accept(updates(10))
    # Telegram sends 10 again (not confirmed): answering at once would make PTB poll again
    # at once, over and over, while the handler runs.
    again = asyncio.ensure_future(tracker.accept(updates(10)))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not again.done()
    tracker.handled(10)  # progress wakes it, without waiting out the pause
    for _ in range(20):
        await asyncio.sleep(0)
    assert again.done()
    assert again.result() == []
    # That progress is used up: the next such poll waits again.
    await tracker.accept(updates(11))
    once_more = asyncio.ensure_future(tracker.accept(updates(11)))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not once_more.done()
    tracker.handled(11)
    async with asyncio.timeout(10):
        assert await once_more == []


async def test_progress_made_before_a_poll_does_not_cut_its_wait_for_room_short(
    tracker: DeliveryTracker,
) -> None:
    await tracker.accept(updates(*range(1, 52)))
    tracker.handled(51)  # progress before the poll; 50 are still in flight
    room = asyncio.ensure_future(tracker.wait_for_room())
    for _ in range(3):
        await asyncio.sleep(0)
    assert not room.done()
    tracker.handled(1)
    async with asyncio.timeout(10):
        await room


async def test_room_to_poll_is_judged_by_updates_in_flight(tracker: DeliveryTracker) -> None:
    async def waits() -> bool:
        room = asyncio.ensure_future(tracker.wait_for_room())
        await asyncio.sleep(0)
        waiting = not room.done()
        room.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await room
        return waiting

    assert not await waits()  # nothing in flight
    await tracker.accept(updates(*range(1, 50)))
    assert not await waits()  # 49 in flight: room enough
    await tracker.accept(updates(50))
    assert await waits()  # 50: half of Telegram's window
    async with asyncio.timeout(10):
        await tracker.wait_for_room()  # without progress, the wait is brief: it ends itself
        assert await tracker.accept(updates(50)) == []  # and so does the in-flight pause
    tracker.handled(50)
    assert not await waits()  # handled ones do not count


class RecordingProcessor(SimpleUpdateProcessor):
    def __init__(self) -> None:
        super().__init__(4)
        self.events: list[str] = []

    async def initialize(self) -> None:
        self.events.append("initialize")

    async def shutdown(self) -> None:
        self.events.append("shutdown")


async def test_the_processor_reports_each_update_when_its_handler_ends(
    tracker: DeliveryTracker,
) -> None:
    application = ApplicationBuilder().token("123456:fake").build()
    inner = RecordingProcessor()
    application._update_processor = inner
    install_tracking(application, tracker)
    install_tracking(application, tracker)  # idempotent: one wrapper
    processor = application.update_processor
    assert isinstance(processor, TrackingUpdateProcessor)
    assert processor.inner is inner
    assert processor.max_concurrent_updates == 4
    await processor.initialize()
    await tracker.accept(updates(1, 2))

    async def handler_ok() -> None:
        return None

    async def handler_fails() -> None:
        raise RuntimeError("handler failed")

    await processor.process_update(Update(1), handler_ok())
    assert tracker.offset(3) == 2
    with pytest.raises(RuntimeError):
        await processor.process_update(Update(2), handler_fails())
    assert tracker.offset(3) == 3  # failed into the error handler: handled all the same
    await processor.process_update(object(), handler_ok())  # not an Update: nothing to report
    await processor.shutdown()
    assert inner.events == ["initialize", "shutdown"]
    remove_tracking(application)
    assert application.update_processor is inner
    remove_tracking(application)  # not installed: nothing to undo
    assert application.update_processor is inner


class WatchedRecord(ProcessedUpdates):
    """The real record, noting how often another task ran before each write began."""

    def __init__(self, store: BalanceStore) -> None:
        super().__init__(store, bot_id=BOT)
        self.ticks = 0  # turns another task got so far
        self.ticks_at_writes: list[int] = []

    async def mark(self, update_ids: list[int]) -> None:
        self.ticks_at_writes.append(self.ticks)
        await super().mark(update_ids)


async def test_the_recorder_lets_other_tasks_run_while_it_gathers_updates(
    sqlite_store: BalanceStore,
) -> None:
    # While it waits for more updates to finish (up to 0.1 s) the recorder must yield:
    # spinning on its event instead would stall every handler of the bot meanwhile.
    record = WatchedRecord(sqlite_store)
    await record.open()
    tracker = DeliveryTracker(record)

    async def other_task() -> None:
        while not record.ticks_at_writes:
            record.ticks += 1
            await asyncio.sleep(0)

    try:
        await tracker.accept(updates(1))
        tracker.handled(1)  # the recorder starts, and runs before the task below
        ticker = asyncio.create_task(other_task())
        await eventually(lambda: _has(tracker, 1))
        await ticker
        assert record.ticks_at_writes[0] > 0
    finally:
        await tracker.aclose()


# -- the recorder after a database error -----------------------------------------------


class FlakyRecord(ProcessedUpdates):
    """The real record, whose writes fail while :attr:`failing` is set."""

    def __init__(self, store: BalanceStore) -> None:
        super().__init__(store, bot_id=BOT)
        self.failing = True
        self.attempts = 0

    async def mark(self, update_ids: list[int]) -> None:
        self.attempts += 1
        if self.failing:
            raise ConnectionError("database unavailable (test)")
        await super().mark(update_ids)


async def test_the_recorder_retries_after_a_database_error_and_pauses_between_tries(
    sqlite_store: BalanceStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    record = FlakyRecord(sqlite_store)
    await record.open()
    tracker = DeliveryTracker(record)
    try:
        await tracker.accept(updates(1))
        tracker.handled(1)
        await eventually(lambda: record.attempts >= 1)
        # While the database stays down, the recorder waits between tries instead of
        # flooding the log (one try, then a pause of about a second).
        await asyncio.sleep(0.3)
        assert record.attempts <= 2, f"{record.attempts} tries in 0.3 s: no pause"
        warnings = [r.getMessage() for r in caplog.records if r.name == "safe_polling"]
        assert warnings[0] == (
            "⚠️ Could not record handled updates yet: database unavailable (test)"
        )
        assert len(warnings) == record.attempts
        # The offset does not wait for the record: the update is handled.
        assert tracker.offset(2) == 2
        record.failing = False
        # No new update arrives: the recorder retries on its own.
        await eventually(lambda: _has(tracker, 1))
    finally:
        record.failing = False
        await tracker.aclose()


# -- the durable record ------------------------------------------------------------------


async def test_marking_more_ids_than_one_insert_holds(store: BalanceStore) -> None:
    record = ProcessedUpdates(store, bot_id=BOT)
    await record.open()
    # Above 400 ids the record writes several INSERTs in one transaction. 40,000 ids (one
    # parameter each) would not fit in one statement: PostgreSQL allows 32,767 parameters,
    # SQLite 32,766.
    many = list(range(1, 40_001))
    await record.mark(many)
    assert await recorded(store) == set(many)
    assert await record.handled_among(many) == set(many)
    await record.mark([1, 2, 40_001])  # already recorded ids are not an error
    assert len(await recorded(store)) == 40_001


async def test_marking_exactly_one_insert_and_one_more(store: BalanceStore) -> None:
    record = ProcessedUpdates(store, bot_id=BOT)
    await record.open()
    await record.mark(list(range(1, 401)))
    await record.mark(list(range(401, 802)))
    await record.mark([])
    assert await recorded(store) == set(range(1, 802))


async def test_records_are_per_bot_and_per_range(sqlite_store: BalanceStore) -> None:
    ours, other = ProcessedUpdates(sqlite_store, BOT), ProcessedUpdates(sqlite_store, BOT + 1)
    await ours.open()
    await ours.mark([5, 6, 9])
    await other.mark([7])
    assert await ours.handled_among([]) == set()
    assert await ours.handled_among([6, 7, 8]) == {6}
    assert await ours.handled_among([9, 5]) == {5, 9}
    assert await other.handled_among([5, 6, 7]) == {7}


async def _insert_at(store: BalanceStore, update_id: int, processed_at: int) -> None:
    await store.execute(
        "INSERT INTO safe_polling_processed_updates (bot_id, update_id, processed_at)"
        " VALUES ($1, $2, $3)",
        BOT,
        update_id,
        processed_at,
    )


async def test_expired_records_are_ignored_and_pruned_on_open(
    sqlite_store: BalanceStore,
) -> None:
    first = ProcessedUpdates(sqlite_store, BOT)
    await first.open()
    now = int(time.time())
    await _insert_at(sqlite_store, 1, now - RETENTION - 30)  # expired
    await _insert_at(sqlite_store, 2, now - RETENTION + 30)  # still within the retention
    # After a week without updates Telegram may reuse ids: an expired record is no proof.
    assert await first.handled_among([1, 2]) == {2}
    second = ProcessedUpdates(sqlite_store, BOT)
    await second.open()
    assert await recorded(sqlite_store) == {2}


async def test_the_record_is_pruned_every_5000_marks(sqlite_store: BalanceStore) -> None:
    record = ProcessedUpdates(sqlite_store, BOT)
    await record.open()
    old = int(time.time()) - RETENTION - 60

    await _insert_at(sqlite_store, 1, old)
    await record.mark(list(range(100, 100 + 4999)))
    assert 1 in await recorded(sqlite_store), "pruned before 5000 marks"
    await record.mark([99])
    assert 1 not in await recorded(sqlite_store), "not pruned at 5000 marks"

    # The count starts again from zero after a prune.
    await _insert_at(sqlite_store, 2, old)
    for start in range(10_000, 10_000 + 4999, 1000):
        await record.mark(list(range(start, min(start + 1000, 10_000 + 4999))))
    assert 2 in await recorded(sqlite_store), "pruned before 5000 marks since the last prune"
    await record.mark([50_000])
    assert 2 not in await recorded(sqlite_store)


# -- getUpdates payloads -----------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"ok": false, "error_code": 409, "description": "Conflict"}',
        b'{"ok": true}',
        b'{"ok": true, "result": {"update_id": 1}}',
        b'{"result": [{"update_id": 1}]}',
    ],
)
def test_filter_payload_refuses_what_is_not_a_good_get_updates_answer(payload: bytes) -> None:
    assert filter_payload(payload) == ([], False)


def test_filter_payload_keeps_only_updates_with_an_id() -> None:
    payload = b'{"ok": true, "result": [1, "x", {"message": {}}, {"update_id": 5}]}'
    assert filter_payload(payload) == ([{"update_id": 5}], True)
    assert filter_payload(b'{"ok": true, "result": []}') == ([], True)


def test_encode_updates_is_a_get_updates_answer() -> None:
    items = [{"update_id": 3, "message": {"text": "é"}}]
    assert filter_payload(encode_updates(items)) == (items, True)
    assert filter_payload(encode_updates([])) == ([], True)
