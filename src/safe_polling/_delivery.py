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

A leader that hands over (SIGTERM with a lease) gives up polling as soon as its last
getUpdates has ended, while its handlers still run (a KIE generation takes 20 s and more).
Telegram re-delivers those updates to the next leader, so the old one first *claims* them in
the records (owner, term, expiry at its shutdown budget). The next leader holds a claimed
update back, neither handling nor confirming it, until the owner records it as handled (then
it is skipped) or the claim ends without a record (the owner died or ran out of time: then it
is handled here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from ._metrics import updates_skipped, watch_delivery_backlog
from ._tasks import cancel_and_wait

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
# A component of their own: a version of this library from before the claims still opens a
# database that has them (a deploy rolled back), instead of refusing a newer schema.
_CLAIM_MIGRATIONS = [
    "CREATE TABLE safe_polling_claimed_updates ("
    " bot_id BIGINT NOT NULL,"
    " update_id BIGINT NOT NULL,"
    " owner TEXT NOT NULL,"
    " term BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " PRIMARY KEY (bot_id, update_id))",
]
# The state of re-delivered updates in one round trip: handled (1) by anyone, or claimed (0)
# by another instance whose claim (expiry in ms) still runs.
_STATE_SQL = (
    "SELECT update_id, 1 AS done FROM safe_polling_processed_updates"
    " WHERE bot_id = $1 AND update_id BETWEEN $2 AND $3 AND processed_at >= $4"
    " UNION ALL SELECT update_id, 0 AS done FROM safe_polling_claimed_updates"
    " WHERE bot_id = $1 AND update_id BETWEEN $2 AND $3 AND expires_at > $5 AND owner <> $6"
)
# How often a leader looks again at updates another instance claimed: the delay between
# that instance's handler finishing (or dying) and this one confirming (or handling) it.
_CLAIM_CHECK = 0.25
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
        #: This process in the claims: host, pid and a random part (pids are reused).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def open(self) -> None:
        """Create or migrate the table; drop records past the retention."""
        await self.store.apply_migrations("safe_polling.delivery", _MIGRATIONS)
        await self.store.apply_migrations("safe_polling.delivery_claims", _CLAIM_MIGRATIONS)
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

    async def state_among(self, update_ids: list[int]) -> tuple[set[int], set[int]]:
        """(handled by any instance, claimed by another live instance) among *update_ids*."""
        if not update_ids:
            return set(), set()
        now = time.time()
        rows = await self.store.fetch_all(
            _STATE_SQL,
            self.bot_id,
            min(update_ids),
            max(update_ids),
            int(now) - RETENTION_SECONDS,
            int(now * 1000),
            self.owner,
        )
        wanted = set(update_ids)
        handled = {int(r["update_id"]) for r in rows if int(r["done"])} & wanted
        claimed = {int(r["update_id"]) for r in rows if not int(r["done"])} & wanted
        return handled, claimed - handled

    async def claim(self, update_ids: list[int], term: int, seconds: float) -> None:
        """Claim *update_ids* (being handled here) for *seconds*, atomically."""
        if not update_ids:
            return
        expires = int((time.time() + seconds) * 1000)
        await self.store.execute(
            _claim_sql(len(update_ids)),
            self.bot_id,
            self.owner,
            term,
            expires,
            *update_ids,
        )

    async def release_claims(self) -> None:
        """Drop this process's claims (and any expired one): what is not recorded is free."""
        await self.store.execute(
            "DELETE FROM safe_polling_claimed_updates"
            " WHERE bot_id = $1 AND (owner = $2 OR expires_at < $3)",
            self.bot_id,
            self.owner,
            int(time.time() * 1000),
        )

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


def _claim_sql(rows: int) -> str:
    """Upsert of *rows* claims: ``$1`` bot id, ``$2`` owner, ``$3`` term, ``$4`` expiry."""
    values = ", ".join(f"($1, ${n + 5}, $2, $3, $4)" for n in range(rows))
    head = "INSERT INTO safe_polling_claimed_updates (bot_id, update_id, owner, term, expires_at)"
    tail = (
        " ON CONFLICT (bot_id, update_id) DO UPDATE SET owner = excluded.owner,"
        " term = excluded.term, expires_at = excluded.expires_at"
    )
    return f"{head} VALUES {values}{tail}"  # only placeholders are interpolated


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

    def __init__(self, processed: ProcessedUpdates, term: int = 0) -> None:
        self.processed = processed
        self.term = term  # this leadership term, for the claims
        #: Hands an update back to the application (set by :func:`install_tracking`).
        self.requeue: Callable[[dict[str, Any]], None] | None = None
        self._outstanding: dict[int, bool] = {}  # update_id -> handled?
        self._held: dict[int, dict[str, Any]] = {}  # claimed by another instance
        self._claim_watch: asyncio.Task[None] | None = None
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
        handled, claimed = await self.processed.state_among([_update_id(u) for u in fresh])
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
        if claimed and self.requeue is not None:
            self._hold([u for u in new if _update_id(u) in claimed])
            new = [u for u in new if _update_id(u) not in claimed]
        return new

    def _hold(self, updates: list[dict[str, Any]]) -> None:
        """Keep back updates another instance claimed (still outstanding: not confirmed)."""
        logger.info(
            "⏳ %d update(s) still being handled by the previous leader; waiting for them",
            len(updates),
        )
        for update in updates:
            self._held[_update_id(update)] = update
        if self._claim_watch is None or self._claim_watch.done():
            self._claim_watch = asyncio.create_task(self._watch_claims())

    async def _watch_claims(self) -> None:
        """Skip held updates once recorded as handled; handle them here once unclaimed."""
        while self._held:
            await asyncio.sleep(_CLAIM_CHECK)
            try:
                handled, claimed = await self.processed.state_among(list(self._held))
            except Exception as exc:  # the database may be back at the next check
                logger.warning("⚠️ Could not check the previous leader's updates: %s", exc)
                continue
            for uid in [u for u in self._held if u in handled or u not in claimed]:
                update = self._held.pop(uid)
                if uid in handled:
                    self.skipped_duplicates += 1
                    self.handled(uid)  # recorded by its claimant: confirmable now
                    logger.info("↩️ Skipped 1 re-delivered update(s) already handled")
                elif self.requeue is not None:
                    logger.info("↪️ Update %d was left unhandled by its claimant; handling it", uid)
                    self.requeue(update)

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

    async def claim_unrecorded(self, seconds: float) -> int:
        """Claim for *seconds* the updates taken here and not recorded yet; how many.

        Those still in flight, and those handled but not yet written by the recorder: the
        next leader gets both again (the offset stops at the oldest one in flight).
        """
        mine = [uid for uid in self._outstanding if uid not in self._held]
        await self.processed.claim(mine, self.term, seconds)
        return len(mine)

    async def aclose(self) -> None:
        """Stop the background tasks (recording what is handled first)."""
        if self._claim_watch is not None:
            await cancel_and_wait(self._claim_watch)
            self._claim_watch = None
        if self._recorder is not None:
            await cancel_and_wait(self._recorder)
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

    def requeue(data: dict[str, Any]) -> None:
        application.update_queue.put_nowait(Update.de_json(data, application.bot))

    tracker.requeue = requeue


def remove_tracking(application: Any) -> None:
    """Undo :func:`install_tracking` (no-op when not installed)."""
    processor = application._update_processor
    if isinstance(processor, TrackingUpdateProcessor):
        application._update_processor = processor.inner
