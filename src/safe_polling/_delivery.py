"""At-least-once fetching, effectively-once handling.

PTB confirms fetched updates on its next getUpdates, before handlers have
finished: a leader killed between fetch and handling loses those updates. Here
the getUpdates gate asks the :class:`DeliveryTracker` which offset may be
confirmed: only below the oldest update that is not handled yet. Telegram then
re-delivers whatever a dead leader had not finished, together with the updates
after it, some of which that leader had handled (concurrent handlers finish out
of order). A durable record of handled ``update_id`` values, shared by all
instances through the database and written as soon as handlers finish, keeps
those from being handled again. Updates below the confirmed offset never come
back, so confirming them does not wait for their record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from ._metrics import updates_skipped, watch_delivery_backlog

if TYPE_CHECKING:
    from .db import BalanceStore

logger = logging.getLogger("safe_polling")

_MIGRATIONS = [
    "CREATE TABLE safe_polling_processed_updates ("
    " bot_id BIGINT NOT NULL,"
    " update_id BIGINT NOT NULL,"
    " processed_at BIGINT NOT NULL,"
    " PRIMARY KEY (bot_id, update_id))",
    "CREATE INDEX safe_polling_processed_updates_age"
    " ON safe_polling_processed_updates (processed_at)",
]
# Telegram keeps unconfirmed updates for 24 hours; a record older than twice
# that can never match a re-delivery.
RETENTION_SECONDS = 48 * 3600
_PRUNE_EVERY_MARKS = 5000
# Rows per INSERT: 400 * 1 + 2 parameters stay below SQLite's oldest limit of 999.
_MARK_ROWS_PER_INSERT = 400
# When a poll brings back only updates that are still being handled, wait this
# long for one of them to finish before polling again, instead of spinning.
_IN_FLIGHT_PAUSE = 0.25
# Telegram answers at most 100 updates from the offset, and the offset stays at
# the oldest update not yet recorded. A poll while half of that window is still
# in flight would mostly bring back updates PTB already has: wait for room first.
_WINDOW_ROOM = 50
# The recorder waits up to this long after an update finishes, or until this
# many are waiting, so that updates finishing meanwhile go into the same write:
# one statement per batch, not per update (with SQLite every write is a commit
# on the one writer thread the bot's own writes need too). The cost: an update
# handled within that window before a crash may be handled again.
_RECORD_COALESCE = 0.1
_RECORD_BATCH = 64


class ProcessedUpdates:
    """The durable record of handled updates, in the bot's database."""

    def __init__(self, store: BalanceStore, bot_id: int) -> None:
        self.store = store
        self.bot_id = bot_id
        self._marks_since_prune = 0

    async def open(self) -> None:
        """Create or migrate the table; drop records past the retention."""
        await self.store.apply_migrations("safe_polling.delivery", _MIGRATIONS)
        await self.prune()

    async def handled_among(self, update_ids: list[int]) -> set[int]:
        """The ids among *update_ids* already handled by any instance."""
        if not update_ids:
            return set()
        rows = await self.store.fetch_all(
            "SELECT update_id FROM safe_polling_processed_updates"
            " WHERE bot_id = $1 AND update_id BETWEEN $2 AND $3 AND processed_at >= $4",
            self.bot_id,
            min(update_ids),
            max(update_ids),
            # Ignore expired records even before they are pruned: after a week
            # without updates Telegram picks the next update_id at random.
            int(time.time()) - RETENTION_SECONDS,
        )
        wanted = set(update_ids)
        return {int(row["update_id"]) for row in rows} & wanted

    async def mark(self, update_ids: list[int]) -> None:
        """Record *update_ids* as handled, atomically."""
        now = int(time.time())
        chunks = [
            update_ids[i : i + _MARK_ROWS_PER_INSERT]
            for i in range(0, len(update_ids), _MARK_ROWS_PER_INSERT)
        ]
        # One multi-row INSERT per chunk, not one per update: a round trip (PostgreSQL)
        # or a worker-thread hop (SQLite) per handled update cost a third of the
        # throughput of a bot with fast handlers (benchmarks/delivery_bench.py).
        if len(chunks) == 1:
            await self.store.execute(_insert_sql(len(update_ids)), self.bot_id, now, *update_ids)
        else:
            async with self.store.transaction() as tx:
                for chunk in chunks:
                    await tx.execute(_insert_sql(len(chunk)), self.bot_id, now, *chunk)
        self._marks_since_prune += len(update_ids)
        if self._marks_since_prune >= _PRUNE_EVERY_MARKS:
            await self.prune()

    async def prune(self) -> None:
        """Bounded retention: forget records older than :data:`RETENTION_SECONDS`."""
        self._marks_since_prune = 0
        await self.store.execute(
            "DELETE FROM safe_polling_processed_updates WHERE bot_id = $1 AND processed_at < $2",
            self.bot_id,
            int(time.time()) - RETENTION_SECONDS,
        )


def _insert_sql(rows: int) -> str:
    """``INSERT`` of *rows* records: ``$1`` bot id, ``$2`` time, ``$3``... update ids."""
    values = ", ".join(f"($1, ${n + 3}, $2)" for n in range(rows))
    head = "INSERT INTO safe_polling_processed_updates (bot_id, update_id, processed_at) VALUES "
    return f"{head}{values} ON CONFLICT DO NOTHING"  # only placeholders are interpolated


class DeliveryTracker:
    """What one leadership term fetched, handled and recorded.

    Update ids move through three states: *in flight* (given to PTB; holds the
    offset back), *handled* (the handler returned or failed into the error
    handler) and *recorded* (written to :class:`ProcessedUpdates`, forgotten here).
    """

    def __init__(self, processed: ProcessedUpdates) -> None:
        self.processed = processed
        self._outstanding: dict[int, bool] = {}  # update_id -> handled?
        self._highest_seen = -1
        self._changed = asyncio.Event()  # wakes the recorder
        self._progress = asyncio.Event()  # wakes a poll waiting on in-flight updates
        self._record_lock = asyncio.Lock()
        self._recorder: asyncio.Task[None] | None = None
        #: Updates Telegram re-delivered that were already handled (skipped).
        self.skipped_duplicates = 0
        watch_delivery_backlog(lambda: len(self._outstanding))

    def offset(self, requested: int) -> int:
        """The offset to send: never past an update that is not handled yet."""
        in_flight = [uid for uid, handled in self._outstanding.items() if not handled]
        if in_flight:
            return min(in_flight)
        return max(requested, self._highest_seen + 1)

    async def wait_for_room(self) -> None:
        """Before a poll: wait (briefly) while most of Telegram's window is in flight."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _IN_FLIGHT_PAUSE
        while self._in_flight() >= _WINDOW_ROOM and loop.time() < deadline:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - loop.time()):
                    await self._progress.wait()

    def _in_flight(self) -> int:
        return sum(1 for handled in self._outstanding.values() if not handled)

    def _handled_count(self) -> int:
        return len(self._outstanding) - self._in_flight()

    async def record_handled(self) -> None:
        """Write the handled updates to the database (then forget them here)."""
        async with self._record_lock:
            done = [uid for uid, handled in self._outstanding.items() if handled]
            if not done:
                return
            await self.processed.mark(done)
            for uid in done:
                del self._outstanding[uid]

    async def accept(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter a getUpdates result down to the updates PTB must handle now."""
        fresh = [u for u in updates if _update_id(u) > self._highest_seen]
        if not fresh:
            if updates and self._outstanding:
                await self._wait_for_progress()
            return []
        handled = await self.processed.handled_among([_update_id(u) for u in fresh])
        # Only now, with no await left before they are outstanding: a poll cancelled
        # (Updater.stop cancels the one in flight) or failed during the query above must
        # leave these updates unseen, or the next offset would confirm them unhandled.
        self._highest_seen = max(_update_id(u) for u in fresh)
        if handled:
            self.skipped_duplicates += len(handled)
            updates_skipped(len(handled))
            logger.info("↩️ Skipped %d re-delivered update(s) already handled", len(handled))
        new = [u for u in fresh if _update_id(u) not in handled]
        for update in new:
            self._outstanding[_update_id(update)] = False
        return new

    def handled(self, update_id: int) -> None:
        """Called when PTB has finished with *update_id*."""
        if update_id in self._outstanding:
            self._outstanding[update_id] = True
            self._changed.set()
            self._progress.set()
            if self._recorder is None:
                self._recorder = asyncio.create_task(self._record_continuously())

    async def _record_continuously(self) -> None:
        # Record soon after handling, not only at the next getUpdates: a crash
        # in between would otherwise get a handled update handled again.
        # Updates finishing meanwhile are written together, in one transaction.
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives as the event is set, and aclose() then waited for ever.
        loop = asyncio.get_running_loop()
        while True:
            await self._changed.wait()
            deadline = loop.time() + _RECORD_COALESCE
            while self._handled_count() < _RECORD_BATCH and loop.time() < deadline:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(deadline - loop.time()):
                        await self._changed.wait()
            self._changed.clear()
            try:
                await self.record_handled()
            except Exception as exc:  # kept here and retried; the offset does not wait
                logger.warning("⚠️ Could not record handled updates yet: %s", exc)
                self._changed.set()
                await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        """Stop the background recorder (recording what is handled first)."""
        if self._recorder is not None:
            self._recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recorder
            self._recorder = None
        await self.record_handled()

    async def _wait_for_progress(self) -> None:
        # Not the recorder's event: waiting must not steal its wake-ups.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_IN_FLIGHT_PAUSE):
                await self._progress.wait()
        self._progress.clear()


def _update_id(update: dict[str, Any]) -> int:
    return int(update["update_id"])


def filter_payload(payload: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Decode a getUpdates answer: (updates, ok)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return [], False
    if (
        not isinstance(data, dict)
        or not data.get("ok")
        or not isinstance(data.get("result"), list)
    ):
        return [], False
    return [u for u in data["result"] if isinstance(u, dict) and "update_id" in u], True


def encode_updates(updates: list[dict[str, Any]]) -> bytes:
    """Encode a getUpdates answer holding *updates*."""
    return json.dumps({"ok": True, "result": updates}).encode()


class TrackingUpdateProcessor(BaseUpdateProcessor):
    """Wraps the application's update processor to report finished updates.

    PTB calls the processor for every update it handles, with the application's
    own concurrency limit, so wrapping it keeps ``concurrent_updates`` working
    while telling the tracker when each update is done.
    """

    def __init__(self, inner: BaseUpdateProcessor, tracker: DeliveryTracker) -> None:
        super().__init__(inner.max_concurrent_updates)
        self.inner = inner
        self.tracker = tracker

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await self.inner.do_process_update(update, coroutine)
        finally:
            if isinstance(update, Update):
                self.tracker.handled(update.update_id)

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()


def install_tracking(application: Any, tracker: DeliveryTracker) -> None:
    """Route the application's updates through a :class:`TrackingUpdateProcessor`."""
    remove_tracking(application)
    application._update_processor = TrackingUpdateProcessor(application._update_processor, tracker)


def remove_tracking(application: Any) -> None:
    """Undo :func:`install_tracking` (no-op when not installed)."""
    processor = application._update_processor
    if isinstance(processor, TrackingUpdateProcessor):
        application._update_processor = processor.inner
