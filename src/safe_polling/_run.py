"""``run_polling``: the blocking entry point with signals, preflight and the lease."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from telegram.error import InvalidToken

from ._delivery import DeliveryTracker, ProcessedUpdates
from ._health import HealthServer, health_port_from_env
from ._metrics import load_metrics
from ._polling import AnyApplication, start_guarded, stop_fetching, stop_guarded
from ._redaction import install_redaction
from ._status import PollingStatus, Role
from ._tasks import cancel_and_wait
from ._watchdog import LoopWatchdog, resolve_watchdog

if TYPE_CHECKING:
    from ._preflight import PreflightCheck
    from .db import BalanceStore
    from .lease import PollingLease
    from .queue import UpdateQueue

__all__ = ["run_polling"]

logger = logging.getLogger("safe_polling")

_DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_T = TypeVar("_T")
Delivery = Literal["at-least-once", "at-most-once"]
_DELIVERY_MODES: tuple[Delivery, ...] = ("at-least-once", "at-most-once")
# Backoff between attempts to reach an unreachable lease backend, in seconds.
_LEASE_RETRY_MIN = 1.0
_LEASE_RETRY_MAX = 15.0


def run_polling(
    application: AnyApplication,
    *,
    drop_updates: bool | None = None,
    allowed_updates: Sequence[str] | None = None,
    poll_interval: float = 0.0,
    timeout: int = 10,
    lease: PollingLease | Literal["env"] | None = "env",
    preflight: bool = True,
    preflight_checks: Sequence[PreflightCheck] = (),
    database_url: str | None = None,
    shutdown_timeout: float = 25.0,
    stop_signals: Sequence[int] = _DEFAULT_SIGNALS,
    delivery: Delivery | Literal["env"] = "env",
    store: BalanceStore | None = None,
    watchdog: float | bool | Literal["env"] | None = "env",
    health_port: int | Literal["env"] | None = "env",
    configure_logging: bool = True,
    queue: UpdateQueue | Literal["env"] | None = "env",
) -> None:
    """Run the bot until SIGINT/SIGTERM: preflight, lease, poll, stop cleanly.

    The blocking entry point to call from ``main()`` instead of
    ``application.run_polling()``. In order, it:

    1. masks secrets in all log output (:func:`install_redaction`);
    2. runs the preflight (:func:`run_preflight`) and, when it fails, logs the
       failed checks and exits with status 1 instead of crash-looping with
       tracebacks;
    3. takes the polling lease, so that exactly one instance polls this token
       across processes and hosts; while another instance holds it, this one
       logs ``⏳ Another instance holds the polling lease (...); standing by``
       once and waits as a hot standby (no getUpdates, no deleteWebhook);
    4. starts polling through :func:`safe_start_polling`, calling
       ``post_init`` after ``initialize()`` like PTB does;
    5. polls until a stop signal arrives or the lease is lost. On a lost
       lease it stops polling at once and goes back to step 3 without exiting;
    6. on SIGINT/SIGTERM stops in PTB's order (``updater.stop``, ``stop``,
       ``post_stop``, ``shutdown``) within *shutdown_timeout* seconds, releases
       the lease so the standby takes over at once, calls ``post_shutdown``
       and returns.

    Args:
        application: The PTB application.
        drop_updates: Drop the updates that are pending at Telegram when this
            instance starts polling. :obj:`None` (default): drop them only on
            a cold start with at-most-once delivery, as PTB does with
            ``drop_pending_updates=True``. They are
            kept with at-least-once delivery, and when this instance took over
            from another that held the lease (a deploy handover): then they
            are the updates (a Stars payment, say) that no instance has
            handled yet.
        allowed_updates: Passed to ``start_polling``.
        poll_interval: Passed to ``start_polling``.
        timeout: Long-polling timeout in seconds.
        lease: A :class:`safe_polling.lease.PollingLease`, ``"env"`` (default:
            chosen by :func:`safe_polling.lease.lease_from_env` from
            ``SAFE_POLLING_LEASE`` and ``DATABASE_URL``) or :obj:`None` for
            no cross-process lease (one process only).
        preflight: Run the preflight first.
        preflight_checks: Extra checks for the preflight.
        database_url: The database the preflight checks (default:
            ``DATABASE_URL`` from the environment, when set).
        shutdown_timeout: Seconds allowed for a graceful stop; keep it below
            the host's kill delay (Render: ``maxShutdownDelaySeconds``,
            default 30).
        stop_signals: Signals that stop the bot.
        delivery: ``"at-least-once"``: confirm an update to Telegram only once
            it and every update before it were handled, and skip updates
            already handled by any instance (recorded in the database), so no
            update is lost or handled twice across crashes and handovers.
            ``"at-most-once"``: PTB's own behaviour (confirm on fetch).
            ``"env"`` (default) reads ``SAFE_POLLING_DELIVERY``; unset, it is
            at-least-once whenever the bot has a database (*store*,
            *database_url* / ``DATABASE_URL``, or a PostgreSQL lease).
        store: A :class:`safe_polling.db.BalanceStore` whose database keeps the
            delivery records (default: one opened from the database URL).
        watchdog: Warn when the event loop is blocked longer than this many
            seconds (:class:`LoopWatchdog`). ``True`` is on with the default
            100 ms, ``False`` or :obj:`None` off; ``"env"`` (default) reads
            ``SAFE_POLLING_WATCHDOG`` (unset: on, 100 ms; ``0``: off).
        health_port: Serve ``GET /healthz`` on this port (:class:`HealthServer`),
            bound before anything else; ``"env"`` (default) reads
            ``SAFE_POLLING_HEALTH_PORT`` (unset: off; ``PORT`` means ``$PORT``).
        configure_logging: When the root logger has no handler yet, set up
            INFO logging to stderr and quiet httpx's per-request lines.
        queue: Scale out through an :class:`safe_polling.queue.UpdateQueue`:
            every replica handles updates taken from it, the lease holder also
            polls into it (see ``docs/scaling-out.md``); needs a database for the
            delivery records. ``"env"`` (default) reads ``SAFE_POLLING_QUEUE``
            (:func:`safe_polling.queue.queue_from_env`; unset: no queue).

    Raises:
        SystemExit: With status 1 when the preflight fails or Telegram
            rejects the token.

    Example:
        .. code-block:: python

            from telegram.ext import ApplicationBuilder
            from safe_polling import logging_error_handler, run_polling

            def main() -> None:
                application = ApplicationBuilder().token(TOKEN).build()
                application.add_error_handler(logging_error_handler)
                run_polling(application)

    .. versionadded:: 0.1.0
    """
    if configure_logging:
        _configure_logging()
    install_redaction(application.bot.token)
    try:
        options = _Options(
            start={
                "drop_updates": drop_updates,
                "allowed_updates": allowed_updates,
                "poll_interval": poll_interval,
                "timeout": timeout,
            },
            lease=lease,
            preflight=preflight,
            preflight_checks=preflight_checks,
            database_url=database_url if database_url is not None else os.getenv("DATABASE_URL"),
            shutdown_timeout=shutdown_timeout,
            stop_signals=stop_signals,
            delivery=_delivery_from_env() if delivery == "env" else _checked(delivery),
            store=store,
            watchdog=resolve_watchdog(watchdog),
            health_port=health_port_from_env() if health_port == "env" else health_port,
            queue=queue,
        )
    except ValueError as exc:
        logger.error("❌ Invalid configuration: %s", exc)
        raise SystemExit(1) from None
    if options.health_port is not None:  # it serves /metrics: record them from the start
        load_metrics()  # off the loop: importing prometheus_client would block it
    _import_backends(options)
    try:
        asyncio.run(_Runner(application, options).run())
    except InvalidToken as exc:
        logger.error("❌ Telegram rejected the bot token (%s); not starting", exc)
        raise SystemExit(1) from None


_POSTGRES = ("postgres://", "postgresql://")
_REDIS = ("redis://", "rediss://")


def _import_backends(options: _Options) -> None:
    """Import the drivers and backends this run's configuration will load, before its loop.

    Imported on the event loop, redis.asyncio (~0.1 s) and asyncpg (~0.07 s) were a block
    the watchdog reported at every scaled-out start, with the bot answering nothing
    meanwhile. A backend that is not installed is left to fail later with its clear error.
    """
    env = os.environ
    lease = options.lease if options.lease != "env" else env.get("SAFE_POLLING_LEASE", "")
    queue = options.queue if options.queue != "env" else env.get("SAFE_POLLING_QUEUE", "")
    database_urls = (options.database_url or "", env.get("SAFE_POLLING_DATABASE_URL", ""))
    wanted = []
    if any(url.startswith(_POSTGRES) for url in database_urls) or _named(lease, "postgres"):
        wanted += ["asyncpg", "safe_polling.db._postgres", "safe_polling.lease._postgres"]
    if _named(lease, "redis") or _named(queue, "redis") or str(queue).startswith(_REDIS):
        wanted += ["redis.asyncio", "safe_polling.lease._redis", "safe_polling.queue._redis"]
    if str(queue).strip().lower() not in ("", "none"):
        wanted.append("safe_polling._scaleout")
    for module in wanted:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def _named(backend: object, kind: str) -> bool:
    """Whether *backend* (an env value or a lease/queue object) is of *kind*."""
    if isinstance(backend, str):
        return backend.strip().lower().startswith(kind)
    return backend is not None and f"._{kind}" in type(backend).__module__


def _configure_logging() -> None:
    root = logging.getLogger()
    if root.handlers:
        return
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    # httpx logs one INFO line per request: a long-polling bot would log every
    # getUpdates forever.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True)
class _Options:
    start: dict[str, Any]
    lease: PollingLease | Literal["env"] | None
    preflight: bool
    preflight_checks: Sequence[PreflightCheck]
    database_url: str | None
    shutdown_timeout: float
    stop_signals: Sequence[int]
    delivery: Delivery | None  # None: decided by whether there is a database
    store: BalanceStore | None
    watchdog: float | None
    health_port: int | None
    queue: UpdateQueue | Literal["env"] | None


class _Runner:
    def __init__(self, application: AnyApplication, options: _Options) -> None:
        self.app = application
        self.options = options
        self.lease: PollingLease | None = None
        self.processed: ProcessedUpdates | None = None
        self.took_over = False  # this term's lease came from another instance
        self.waiting: Role = "standby"  # the role while the lease is another's
        self.webhook: dict[str, Any] | None = None  # getWebhookInfo as the preflight saw it
        self.stopping = asyncio.Event()
        self.status = PollingStatus(version=_version())

    async def run(self) -> None:
        self._install_signal_handlers()
        async with contextlib.AsyncExitStack() as stack:
            # The health port first: Render's port scan must find it even
            # while the preflight runs or this instance stands by.
            if self.options.health_port is not None:
                health = HealthServer(self.status, port=self.options.health_port)
                await _or_exit(health.start(), "cannot serve the health port")
                stack.push_async_callback(health.stop)
            if self.options.watchdog is not None:
                watchdog = LoopWatchdog(threshold=self.options.watchdog, application=self.app)
                await watchdog.start()
                stack.push_async_callback(watchdog.stop)
            if self.app.post_shutdown:
                stack.push_async_callback(self.app.post_shutdown, self.app)
            self.lease = await _or_exit(self._resolve_lease(), "invalid polling lease")
            if self.lease is not None:
                stack.push_async_callback(self.lease.aclose)
            # The database opens while the preflight's Bot API calls are in flight.
            opening = self._start_opening_records(stack)
            if self.options.preflight and not await self._preflight_passed():
                raise SystemExit(1)
            await self._open_delivery_records(opening)
            queue = await _or_exit(self._resolve_queue(), "invalid update queue")
            if queue is not None:
                await self._scale_out(queue)
                return
            while not self.stopping.is_set():
                await self._warm_up()
                if self.lease is not None and not await self._acquire_lease(self.lease):
                    break
                await self._lead()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self.options.stop_signals:
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        if not self.stopping.is_set():
            logger.info("🛑 Received %s: stopping", signal.Signals(sig).name)
        self.stopping.set()
        self.status.set_role("stopping")

    async def _resolve_lease(self) -> PollingLease | None:
        if self.options.lease != "env":
            return self.options.lease
        from .lease import lease_from_env

        return lease_from_env(token=self.app.bot.token)

    async def _resolve_queue(self) -> UpdateQueue | None:
        if self.options.queue != "env":
            return self.options.queue
        from .queue import queue_from_env

        return queue_from_env(token=self.app.bot.token)

    async def _scale_out(self, queue: UpdateQueue) -> None:
        from ._scaleout import ScaleOutRun, run_scaled_out

        if self.processed is None:
            logger.error(
                "❌ The update queue needs a database for delivery records: set DATABASE_URL"
            )
            raise SystemExit(1)
        self.waiting = "worker"  # it handles updates from the queue while it waits
        await run_scaled_out(
            ScaleOutRun(
                app=self.app,
                queue=queue,
                processed=self.processed,
                lease=self.lease,
                acquire=self._acquire_lease,
                until_stopped=self._until_stopped,
                stopping=self.stopping,
                status=self.status,
                start_options=self.options.start,
                shutdown_timeout=self.options.shutdown_timeout,
            )
        )

    async def _preflight_passed(self) -> bool:
        """Run the preflight through the application's bot, which it leaves initialized.

        Its getMe is the one ``initialize()`` needs and its getWebhookInfo tells the start
        whether deleteWebhook has work to do, so a standby has them done while it waits.
        render.yaml is checked only on Render (``RENDER`` set), where it can matter.
        """
        from ._preflight import run_preflight
        from ._preflight._telegram import PtbBotApi, server_label

        base_url = _ptb_base_url(self.app)
        bot_api = PtbBotApi(self.app.bot, server_label(base_url, self.app.bot.token), 5.0)
        report = await run_preflight(
            token=self.app.bot.token,
            base_url=base_url,
            database_url=self.options.database_url,
            render_yaml=None if os.getenv("RENDER") else False,
            lease=self.lease,
            extra_checks=self.options.preflight_checks,
            bot_api=bot_api,
        )
        for line in report.lines():
            logger.info("%s", line) if report.ok else logger.error("%s", line)
        if not report.ok:
            await self.app.bot.shutdown()
        self.webhook = bot_api.webhook
        return report.ok

    async def _warm_up(self) -> None:
        """Before the lease: getMe (``initialize()``) and getWebhookInfo, side by side.

        A standby then has them done while it waits: once it holds the lease it only fences
        and polls (benchmarks/handover_bench.py). After a preflight both are known already.
        A failure here is not fatal: the start makes these calls again.
        """
        bot = self.app.bot
        calls: list[Awaitable[Any]] = [bot.initialize()]  # no call once initialized
        if self.webhook is None:
            calls.append(self._read_webhook())
        try:
            await asyncio.gather(*calls)
        except InvalidToken:
            raise
        except Exception as exc:
            logger.warning(
                "⚠️ Could not reach the Bot API before polling (%s); retrying at start", exc
            )

    async def _read_webhook(self) -> None:
        self.webhook = (await self.app.bot.get_webhook_info()).to_dict()

    async def _acquire_lease(self, lease: PollingLease) -> bool:
        """Wait as a hot standby until *lease* is ours; False if told to stop first.

        A lease backend that cannot be reached (database restarting, network
        blip) is retried with backoff: the instance stays a standby rather
        than exiting into a platform restart loop.
        """
        from .lease import LeaseError

        self.status.set_role(self.waiting)
        delay = _LEASE_RETRY_MIN
        level = logging.WARNING  # one warning per outage, then quiet retries
        while True:
            try:
                return await self._acquire_once(lease)
            except LeaseError as exc:
                logger.log(level, "⚠️ Polling lease unavailable (%s); standing by, retrying", exc)
                level = logging.DEBUG
            if await self._until_stopped(asyncio.sleep(delay)):
                delay = min(delay * 2, _LEASE_RETRY_MAX)
            else:
                return False

    async def _acquire_once(self, lease: PollingLease) -> bool:
        self.took_over = False
        if not await lease.try_acquire():
            self.took_over = True
            holder = await lease.holder()
            logger.info(
                "⏳ Another instance holds the polling lease (%s); standing by",
                holder if holder is not None else "unknown holder",
            )
            if not await self._until_stopped(lease.acquire()):
                return False
        logger.info("👑 Acquired the polling lease (%s)", lease.describe())
        return True

    def _start_opening_records(
        self, stack: contextlib.AsyncExitStack
    ) -> asyncio.Task[BalanceStore] | None:
        """Open the delivery records' database in the background; None if there is none."""
        url = self._delivery_database()
        if url is None or self.options.store is not None:
            return None
        from .db import open_balance_store

        async def open_store() -> BalanceStore:
            return await open_balance_store(url)

        task = asyncio.create_task(open_store())
        stack.push_async_callback(_close_opened, task)  # also when the preflight fails
        return task

    async def _open_delivery_records(self, opening: asyncio.Task[BalanceStore] | None) -> None:
        store = self.options.store
        if opening is not None:
            store = await _or_exit(opening, "cannot open the database")
        if store is None:
            logger.info("📬 Delivery: at-most-once (no database for delivery records)")
            return
        from .lease import bot_id_from_token

        self.processed = ProcessedUpdates(store, bot_id_from_token(self.app.bot.token))
        await self.processed.open()
        logger.info("📬 Delivery: at-least-once (records in %s)", store.masked_url)

    def _delivery_database(self) -> str | None:
        """The database URL for delivery records, or None for at-most-once."""
        if self.options.delivery == "at-most-once":
            return None
        url = self.options.database_url or getattr(self.lease, "dsn", None)
        if url is None and self.options.delivery == "at-least-once" and not self.options.store:
            from .db import database_url_from_env

            url = database_url_from_env()  # asked for explicitly: the embedded SQLite file
        return url

    async def _lead(self) -> None:
        lease = self.lease
        self.status.set_role("leader")
        term = int(time.time() * 1000)  # when this leadership began, for the claims
        tracker = DeliveryTracker(self.processed, term) if self.processed else None
        start = dict(self.options.start)
        if start["drop_updates"] is None:
            start["drop_updates"] = tracker is None and not self.took_over
        started = await start_guarded(
            self.app,
            **start,
            error_callback=None,
            fence=lease,
            status=self.status,
            delivery=tracker,
            call_post_init=True,
            webhook=self.webhook,
        )
        self.webhook = None  # known for the first start only: a later one checks again
        if not started:  # another application polls in this process: nothing to lead
            await self.stopping.wait()
            return
        if lease is None:
            await self.stopping.wait()
        elif await self._until_stopped(lease.wait_lost()):
            logger.warning(
                "🛑 Lost the polling lease (%s): stopped polling; standing by", lease.describe()
            )
        await self._step_down(tracker)

    async def _step_down(self, tracker: DeliveryTracker | None) -> None:
        """Stop polling, hand the lease over, let the handlers finish, within the budget.

        With a lease, polling rights go as soon as the last getUpdates has ended and its
        offset is confirmed, not after the handlers (a KIE generation takes 20 s and more):
        the next leader polls while they finish here. Updates still in flight are claimed
        in the delivery records first, so the next leader does not handle them again.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.shutdown_timeout
        released = False
        try:
            async with asyncio.timeout_at(deadline):
                if self.lease is not None:
                    released = await self._hand_over(tracker)
                await stop_guarded(
                    self.app, call_post_stop=True, delivery=tracker, confirm=not released
                )
        except TimeoutError:
            logger.error(
                "❌ Graceful stop took longer than %.0f s; releasing the lease anyway",
                self.options.shutdown_timeout,
            )
        finally:
            if self.lease is not None and not released:
                await self.lease.release()
        if released and self.processed is not None:
            try:  # what was not recorded by now is the next leader's to handle
                await self.processed.release_claims()
            except Exception as exc:  # the claims expire at the budget anyway
                logger.warning("⚠️ Could not release claimed updates: %s", exc)

    async def _hand_over(self, tracker: DeliveryTracker | None) -> bool:
        """Stop fetching, claim what is not recorded, release the lease; False: not released."""
        assert self.lease is not None
        await stop_fetching(self.app)  # the last getUpdates has ended, the offset confirmed
        if tracker is not None:
            try:
                claimed = await tracker.claim_unrecorded(self.options.shutdown_timeout)
            except Exception as exc:
                logger.warning(
                    "⚠️ Could not claim the updates in flight (%s); handing over after them", exc
                )
                return False
            if claimed:
                logger.info("📌 Claimed %d update(s) not recorded as handled yet", claimed)
        await self.lease.release()
        return True

    async def _until_stopped(self, awaitable: Awaitable[Any]) -> bool:
        """Await *awaitable* unless a stop signal comes first; True if it finished."""
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stop):
                if not pending.done():
                    await cancel_and_wait(pending)
        if task.done() and not task.cancelled():
            task.result()  # re-raise its error, if any
            return True
        return False


def _checked(delivery: str) -> Delivery:
    if delivery not in _DELIVERY_MODES:
        raise ValueError(f"delivery must be one of {', '.join(_DELIVERY_MODES)}, not {delivery!r}")
    return delivery


def _delivery_from_env() -> Delivery | None:
    value = os.getenv("SAFE_POLLING_DELIVERY", "").strip().lower()
    return _checked(value) if value else None


async def _close_opened(opening: asyncio.Task[BalanceStore]) -> None:
    """Close the store *opening* opened, or stop it opening."""
    with contextlib.suppress(Exception):  # its error: reported already, or moot now
        await cancel_and_wait(opening)
    if not opening.cancelled() and opening.exception() is None:
        await opening.result().aclose()


async def _or_exit(awaitable: Awaitable[_T], what: str) -> _T:
    """Await a start-up step; its failure ends the run with status 1 and one line.

    A bad ``SAFE_POLLING_LEASE``, an unreachable database or a port in use is a
    configuration problem: a traceback would only bury the one line that says
    what to fix, on every restart of the platform's crash loop.
    """
    try:
        return await awaitable
    except Exception as exc:
        logger.error("❌ %s: %s", what, exc)
        raise SystemExit(1) from None


def _version() -> str:
    from . import __version__

    return __version__


def _ptb_base_url(application: AnyApplication) -> str:
    """The bot's API base URL in PTB's ``base_url`` form (without the token)."""
    token = application.bot.token
    base: str = application.bot.base_url
    return base[: -len(token)] if base.endswith(token) else base.replace(token, "{token}")
