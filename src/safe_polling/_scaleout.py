"""Scale-out inside ``run_polling``: every replica a worker, the lease holder also the poller.

With an :class:`~safe_polling.queue.UpdateQueue`, each replica initializes and
starts the application and handles updates taken from the queue with the bot's
own handlers (``Application.process_update``). The replica holding the polling
lease also polls: the getUpdates gate (``_gate.py``) hands each answer to a
:class:`QueueFeeder`, which appends the updates to the queue and only then lets
the next getUpdates confirm them to Telegram; PTB itself gets an empty answer,
so the poller handles updates only as a worker, like every other replica.

A worker acknowledges an update only after its handler finished (or failed into
the error handler) and its delivery record is written; an update handed out
again (its worker died, a re-fetch after a poller crash) whose record exists is
acknowledged without running the handlers: effects stay single.

Warning:
    Internal: :func:`run_scaled_out` is called by ``run_polling``; it claims the
    process-wide guard and deletes the webhook with ``_polling.py``'s helpers, so
    both paths start polling the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import Update

from ._batcher import Batcher
from ._delivery import DeliveryTracker, ProcessedUpdates
from ._errors import PollingErrorCallback
from ._gate import install_gate, remove_gate
from ._metrics import install_metering, queue_stats, remove_metering, updates_skipped
from ._persistence import reload_conversations
from ._polling import (
    AnyApplication,
    claim_guard,
    delete_webhook_if_needed,
    release_guard,
    stop_fetching,
)
from ._status import PollingStatus
from ._tasks import cancel_and_wait
from .queue import partition_of_chat

if TYPE_CHECKING:
    from .lease import PollingLease
    from .queue import QueuedUpdate, UpdateQueue

__all__ = ["QueueFeeder", "QueueWorker", "run_scaled_out"]

logger = logging.getLogger("safe_polling")

# How long one take() waits before the worker looks at its stop flag again.
_TAKE_WAIT = 0.5
# Backoff while the database or Redis is down around an update's record or ack.
_RETRY_MIN, _RETRY_MAX = 0.2, 5.0
# How often /healthz's queue figures are refreshed (one round trip each).
_STATS_EVERY = 2.0


class QueueFeeder(DeliveryTracker):
    """The poller's side: what getUpdates fetched goes to the queue, then is confirmed."""

    def __init__(self, queue: UpdateQueue, processed: ProcessedUpdates) -> None:
        super().__init__(processed)
        self.queue = queue
        self._next_offset = 0

    def offset(self, requested: int) -> int:
        """Confirm everything appended to the queue, nothing after it."""
        return max(requested, self._next_offset)

    async def wait_for_room(self) -> None:
        """The bounded backlog: no getUpdates while the queue is full."""
        await self.queue.wait_for_room()

    async def accept(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append *updates* to the queue; PTB gets none (workers handle them)."""
        fresh = [u for u in updates if int(u["update_id"]) >= self._next_offset]
        if fresh:
            await self.queue.put(fresh)  # a failure leaves them unconfirmed: fetched again
            self._next_offset = max(int(u["update_id"]) for u in fresh) + 1
        return []

    def handled(self, update_id: int) -> None:
        """Nothing to track: workers record what they handle."""

    async def aclose(self) -> None:
        """Nothing to record."""


class QueueWorker:
    """Takes updates from the queue and handles them with the application's handlers.

    Up to the application's ``concurrent_updates`` limit run at once, through its
    update processor; the queue keeps each chat's updates one at a time.
    """

    def __init__(
        self, application: AnyApplication, queue: UpdateQueue, processed: ProcessedUpdates
    ) -> None:
        self.app = application
        self.queue = queue
        self.processed = processed
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(application.update_processor.max_concurrent_updates)
        self.skipped_duplicates = 0
        self._reload_again: frozenset[int] = frozenset()
        self._seen = Batcher(self._handled_among)
        self._finished = Batcher(self._record_and_ack)

    async def run(self) -> None:
        """Take and handle updates until :meth:`stop`."""
        delay = _RETRY_MIN
        while not self._stopping:
            await self._slots.acquire()
            try:
                item = await self.queue.take(timeout=_TAKE_WAIT)
                await self._follow_ownership()  # before handling what take() returned
                delay = _RETRY_MIN
            except Exception as exc:
                self._slots.release()
                logger.warning("⚠️ Could not take from the update queue (%s)", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            if item is None:
                self._slots.release()
                continue
            task = asyncio.create_task(self._handle(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _follow_ownership(self) -> None:
        """Reload the conversation states of the chats in partitions just taken over."""
        gained = self.queue.take_gained() | self._reload_again
        self._reload_again = frozenset()
        if not gained or self.app.persistence is None:
            return
        partitions = self.queue.partitions

        def in_gained(key: tuple[str | int, ...]) -> bool:
            return bool(key) and partition_of_chat(int(key[0]), partitions) in gained

        try:
            await reload_conversations(self.app, in_gained)
        except Exception as exc:
            self._reload_again = gained  # try again before the next update
            logger.warning("⚠️ Could not reload conversation states (%s)", exc)

    async def _handle(self, item: QueuedUpdate) -> None:
        try:
            already = await self._retrying("read delivery records", self._handled_before, item)
            if already:
                self.skipped_duplicates += 1
                updates_skipped(1)
            else:
                update = Update.de_json(item.update, self.app.bot)
                processor = self.app.update_processor
                # PTB's process_update catches handler errors into the error handlers.
                await processor.process_update(update, self.app.process_update(update))
                if self.app.persistence is not None:  # the chat's next update may go elsewhere
                    await self.app.update_persistence()
            await self._retrying("record and acknowledge an update", self._finished.submit, item)
        finally:
            self._slots.release()

    async def _handled_before(self, item: QueuedUpdate) -> bool:
        return await self._seen.submit(item.update_id)

    async def _handled_among(self, update_ids: list[int]) -> list[bool]:
        """Which of *update_ids* any worker already handled (one query for the batch)."""
        handled = await self.processed.handled_among(update_ids)
        return [uid in handled for uid in update_ids]

    async def _record_and_ack(self, items: list[QueuedUpdate]) -> list[None]:
        """Record handled *items*, then acknowledge them: the record always comes first."""
        await self.processed.mark([item.update_id for item in items])
        await asyncio.gather(*(self.queue.ack(item) for item in items))
        return [None] * len(items)

    async def _retrying(self, what: str, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Retry *call* while its server is down; a handled update must not be lost for it."""
        delay = _RETRY_MIN
        while True:
            try:
                return await call(*args)
            except Exception as exc:
                logger.warning("⚠️ Could not %s yet (%s); retrying", what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    async def stop(self, running: asyncio.Task[None]) -> None:
        """Stop taking updates (*running* is :meth:`run`'s task) and finish the ones in hand."""
        self._stopping = True
        await running  # returns within one take() wait: nothing is taken after this
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclasses.dataclass(frozen=True)
class ScaleOutRun:
    """What :func:`run_scaled_out` needs from ``run_polling``."""

    app: AnyApplication
    queue: UpdateQueue
    processed: ProcessedUpdates
    lease: PollingLease | None
    acquire: Callable[[PollingLease], Awaitable[bool]]  # stands by; False when stopping
    until_stopped: Callable[[Awaitable[Any]], Awaitable[bool]]
    stopping: asyncio.Event
    status: PollingStatus
    start_options: dict[str, Any]
    shutdown_timeout: float


async def run_scaled_out(run: ScaleOutRun) -> None:
    """Work the queue until stopped, polling into it whenever this replica holds the lease."""
    app, queue = run.app, run.queue
    if not await _join(run):
        return
    logger.info("🧵 Scale-out: this replica handles updates from %s", queue.describe())
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    install_metering(app)
    worker = QueueWorker(app, queue, run.processed)
    working = asyncio.create_task(worker.run())
    stats = asyncio.create_task(_publish_stats(queue, run.status))
    try:
        while not run.stopping.is_set():
            if run.lease is not None and not await run.acquire(run.lease):
                break
            await _poll_into_queue(run)
    finally:
        # SIGTERM: stop fetching (above), finish what is in hand, then hand the
        # partitions over at once instead of after the ownership TTL.
        try:
            async with asyncio.timeout(run.shutdown_timeout):
                await worker.stop(working)
        except TimeoutError:
            logger.error("❌ Updates in hand did not finish in time; leaving them to others")
        for task in (working, stats):
            await cancel_and_wait(task)
        await queue.aclose()
        logger.info("👋 Left the workers (%d update(s) handled here)", queue.handled)
        if app.running:
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
        remove_metering(app)
        await app.shutdown()


async def _join(run: ScaleOutRun) -> bool:
    """Join the queue's workers, waiting out a Redis that is down; False if stopped first.

    A replica started while Redis restarts waits for it rather than exiting into
    the platform's restart loop.
    """
    from .queue import QueueError

    delay = _RETRY_MIN
    while True:
        try:
            await run.queue.start()
        except QueueError as exc:
            logger.warning("⚠️ Update queue unavailable (%s); retrying in %.1f s", exc, delay)
        else:
            return True
        if not await run.until_stopped(asyncio.sleep(delay)):
            return False
        delay = min(delay * 2, _RETRY_MAX)


async def _poll_into_queue(run: ScaleOutRun) -> None:
    """While the lease is ours: poll Telegram into the queue; stop on loss or signal."""
    app, lease = run.app, run.lease
    if app.updater is None:
        raise ValueError("scale-out needs an Application built with an Updater")
    if not claim_guard(app):
        logger.warning("⚠️ Polling already started; skip second start")
        await run.stopping.wait()
        return
    run.status.set_role("leader")
    feeder = QueueFeeder(run.queue, run.processed)
    try:
        await delete_webhook_if_needed(app, drop_updates=False, webhook=None)
        install_gate(app.bot, lease, run.status, feeder)
        options = run.start_options
        await app.updater.start_polling(
            poll_interval=options["poll_interval"],
            timeout=options["timeout"],
            allowed_updates=options["allowed_updates"],
            drop_pending_updates=False,
            error_callback=PollingErrorCallback(),
        )
        logger.info("✅ Polling started successfully! Updates go to %s", run.queue.describe())
        if lease is None:
            await run.stopping.wait()
        elif await run.until_stopped(lease.wait_lost()):
            logger.warning("🛑 Lost the polling lease (%s): stopped polling", lease.describe())
    finally:
        await stop_fetching(app)  # its last getUpdates confirms what was appended
        remove_gate(app.bot)
        release_guard(app)
        if lease is not None:
            await lease.release()
        run.status.set_role("worker")


async def _publish_stats(queue: UpdateQueue, status: PollingStatus) -> None:
    """Keep ``status.queue`` (shown by ``/healthz``) fresh; log ownership changes."""
    owned = -1
    while True:
        with contextlib.suppress(Exception):  # Redis down: /healthz keeps the last figures
            stats = await queue.stats()
            queue_stats(stats)
            if stats.partitions_owned != owned:
                owned = stats.partitions_owned
                logger.info("🧩 Partitions owned here: %d of %d", owned, queue.partitions)
            status.queue = {
                "backlog": stats.backlog,
                "oldest_unhandled_age_s": round(stats.oldest_age, 1),
                "partitions_owned": stats.partitions_owned,
                "handled_here": stats.handled,
                "dead_letters": stats.dead_letters,
            }
        await asyncio.sleep(_STATS_EVERY)
