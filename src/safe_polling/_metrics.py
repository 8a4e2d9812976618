"""Prometheus metrics: what an operator graphs and alerts on, with no user data in labels.

Metrics are recorded when ``prometheus_client`` is installed (the ``metrics``
extra) and something can read them: the health port (which serves ``GET /metrics``)
or a call to :func:`metrics_registry`. Otherwise they cost nothing, not even the
import of ``prometheus_client`` (~20 ms of a bot's start-up,
benchmarks/startup_bench.py). The instrumentation points elsewhere in the package
are one-line calls to the functions here; each returns at once when metrics are off.

Every metric lives in one registry of our own (:func:`metrics_registry`), not
in ``prometheus_client``'s global one, so that a bot's own metrics and ours
never collide; the health port serves it at ``GET /metrics`` and a bot's own
server can serve or merge it. Labels have bounded values only: roles, outcome
kinds, Bot API update types and handler callback names (code, not data). No
token, user id, chat id or message text ever becomes a label.

Two PTB seams are wrapped, only in the :func:`install_metering` /
:func:`remove_metering` pair, because PTB offers no public hook around either:

* the application's update processor (one private attribute,
  ``Application._update_processor``, as the delivery tracker does), to count and
  time each update by its type;
* :meth:`telegram.ext.BaseHandler.handle_update`, on the class, to time each
  handler by its callback's name. Every handler PTB runs goes through it: handlers
  added after the start, the states of a ``ConversationHandler`` (which calls its
  children's ``handle_update``; its own override is not timed, its child is), the
  scale-out worker's ``Application.process_update`` and ``block=False`` handlers
  (timed in their task, to the end). Patching the class rather than each handler
  needs no watch for new handlers and leaves ``handler.callback`` as the bot set
  it. The patch is process-wide: it stays while any application is metered.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import NetworkError
from telegram.ext import BaseHandler, BaseUpdateProcessor

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .queue import QueueStats

__all__ = [
    "INSTALL_HINT",
    "MeteredUpdateProcessor",
    "get_updates_call",
    "handler_failed",
    "handler_label",
    "install_metering",
    "load_metrics",
    "loop_block_ended",
    "loop_block_seen",
    "metrics_registry",
    "queue_stats",
    "remove_metering",
    "render_metrics",
    "role_changed",
    "updates_skipped",
    "watch_delivery_backlog",
]

INSTALL_HINT = "Prometheus metrics need prometheus_client: pip install 'safe-polling[metrics]'"
_ROLES = ("starting", "standby", "worker", "leader", "stopping")
# Roles that wait for the polling lease: standby (one poller, the others idle) and
# worker (scale-out: it handles updates from the queue meanwhile).
_WAITING = ("standby", "worker")
# Handler labels are callback names, code and not data, so bounded; but a bot that
# builds callbacks at run time under names taken from data (a factory setting
# __qualname__) would make them unbounded. Past this many names, new ones are "other":
# a real bot has tens of handlers, and each name costs one series per histogram bucket.
MAX_HANDLER_LABELS = 200
# getUpdates answers by HTTP status; anything else is an "http_error".
_OUTCOME_BY_STATUS = {200: "ok", 409: "conflict", 429: "rate_limited"}
# A long poll lasts up to its timeout (10 s by default, 50 s at most in practice):
# the buckets reach past it so that a stalled long poll is not lost in +Inf.
_GET_UPDATES_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120)
_LEASE_WAIT_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_BLOCK_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# From a reply (tens of ms) to a slow external call (a KIE generation polled for minutes).
_HANDLER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Counting update objects in a getUpdates answer without decoding it a second
# time: the key only appears at the top level of each Update (a quote inside a
# message text is escaped, so the pattern cannot match there).
_UPDATE_KEY = re.compile(rb'"update_id"\s*:')


class _Metrics:
    """The metric objects, created once in our own registry."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.role = Gauge(
            "safe_polling_role",
            "1 for this instance's current role "
            "(leader, standby, worker, starting, stopping), else 0.",
            ["role"],
            registry=reg,
        )
        for role in _ROLES:
            self.role.labels(role).set(1 if role == "starting" else 0)
        self.lease_terms = Counter(
            "safe_polling_lease_terms",
            "Times this instance became the leader (lease term changes).",
            registry=reg,
        )
        self.lease_lost = Counter(
            "safe_polling_lease_lost",
            "Times this instance lost the lease while leading and went back to waiting.",
            registry=reg,
        )
        self.lease_wait = Histogram(
            "safe_polling_lease_acquire_wait_seconds",
            "Seconds spent as a standby or worker before acquiring the polling lease.",
            buckets=_LEASE_WAIT_BUCKETS,
            registry=reg,
        )
        self.get_updates = Counter(
            "safe_polling_get_updates",
            "getUpdates calls sent to Telegram, by outcome "
            "(ok, conflict, rate_limited, http_error, network, error).",
            ["outcome"],
            registry=reg,
        )
        self.get_updates_seconds = Histogram(
            "safe_polling_get_updates_duration_seconds",
            "Duration of getUpdates calls (long polls included).",
            buckets=_GET_UPDATES_BUCKETS,
            registry=reg,
        )
        self.last_ok = Gauge(
            "safe_polling_last_get_updates_success_timestamp_seconds",
            "Unix time of the last successful getUpdates (0: none yet).",
            registry=reg,
        )
        self.fetched = Counter(
            "safe_polling_updates_fetched",
            "Updates received from getUpdates.",
            registry=reg,
        )
        self.skipped = Counter(
            "safe_polling_updates_skipped",
            "Re-delivered updates skipped because another term already handled them.",
            registry=reg,
        )
        self.handled = Counter(
            "safe_polling_updates_handled",
            "Updates the application finished processing, by Bot API update type.",
            ["update_type"],
            registry=reg,
        )
        self.update_seconds = Histogram(
            "safe_polling_update_duration_seconds",
            "Seconds the application spent on one update (its handlers), by update type.",
            ["update_type"],
            registry=reg,
        )
        self.handler_seconds = Histogram(
            "safe_polling_handler_duration_seconds",
            "Seconds one handler callback ran, by its name (module.qualname).",
            ["handler"],
            buckets=_HANDLER_BUCKETS,
            registry=reg,
        )
        self.failed = Counter(
            "safe_polling_handler_errors",
            "Handler errors that reached logging_error_handler, by handler callback name.",
            ["handler"],
            registry=reg,
        )
        self.loop_blocks = Counter(
            "safe_polling_event_loop_blocks",
            "Event-loop blocks longer than the watchdog threshold.",
            registry=reg,
        )
        self.loop_block_seconds = Histogram(
            "safe_polling_event_loop_block_seconds",
            "Duration of the event-loop blocks the watchdog saw end.",
            buckets=_BLOCK_BUCKETS,
            registry=reg,
        )
        self.backlog = Gauge(
            "safe_polling_delivery_backlog",
            "Updates fetched but not yet recorded as handled (at-least-once delivery).",
            registry=reg,
        )
        self.queue_backlog = Gauge(
            "safe_polling_queue_backlog",
            "Scale-out queue: updates appended and not yet acknowledged, all partitions.",
            registry=reg,
        )
        self.queue_oldest = Gauge(
            "safe_polling_queue_oldest_unhandled_age_seconds",
            "Scale-out queue: age of the oldest unacknowledged update (0: none).",
            registry=reg,
        )
        self.queue_owned = Gauge(
            "safe_polling_queue_partitions_owned",
            "Scale-out queue: partitions this worker owns now.",
            registry=reg,
        )
        self.queue_dead = Gauge(
            "safe_polling_queue_dead_letters",
            "Scale-out queue: updates in the dead-letter stream (all workers).",
            registry=reg,
        )
        self.backlog_source: Callable[[], int] | None = None
        self.backlog.set_function(self._backlog)
        self.role_since = time.monotonic()  # when the current role began
        self.handler_labels: set[str] = set()
        # The duration child per callback, as the update processor caches its children
        # (.labels() takes a lock and builds a key each time), by id() with the callback
        # kept beside it so that a reused id is never mistaken for it.
        self._by_callback: dict[int, tuple[object, Any]] = {}

    def _backlog(self) -> float:
        source = self.backlog_source
        return float(source()) if source is not None else 0.0

    def label_for(self, callback: object) -> str:
        """The label for *callback*: its name, or ``other`` past the cap."""
        name = handler_label(callback)
        if name not in self.handler_labels:
            with _lock:
                if len(self.handler_labels) >= MAX_HANDLER_LABELS:
                    return "other"
                self.handler_labels.add(name)
        return name

    def handler_timer(self, callback: object) -> Any:
        """The duration histogram's child for *callback*."""
        entry = self._by_callback.get(id(callback))
        if entry is not None and entry[0] is callback:
            return entry[1]
        child = self.handler_seconds.labels(self.label_for(callback))
        if len(self._by_callback) >= 4 * MAX_HANDLER_LABELS:  # callbacks made per handler
            self._by_callback.clear()
        self._by_callback[id(callback)] = (callback, child)
        return child


_lock = threading.Lock()
_wanted = False  # something reads the metrics: the health port or metrics_registry()
_looked = False
_metrics: _Metrics | None = None


def _active() -> _Metrics | None:
    """The metrics, or None when nothing reads them or prometheus_client is not installed.

    Called at every event (each getUpdates, update and handler): once loaded, two reads.
    """
    if not _wanted:
        return None
    return _metrics if _looked else _load()


def _load() -> _Metrics | None:
    global _looked, _metrics, _wanted
    _wanted = True
    if not _looked:
        with _lock:
            if not _looked:
                if importlib.util.find_spec("prometheus_client") is not None:
                    _metrics = _Metrics()
                _looked = True
    return _metrics


def load_metrics() -> None:
    """Record metrics from now on: import prometheus_client and create them, if installed.

    :func:`safe_polling.run_polling` calls it before its event loop starts when the
    health port will serve them: the import takes 0.02-0.7 s, which on the loop would be
    a block the watchdog reports (and a bot that answers nothing meanwhile).
    """
    _load()


def metrics_registry() -> CollectorRegistry:
    """The Prometheus registry holding safe-polling's metrics.

    The health port serves it at ``GET /metrics``; to serve it from your own
    server instead, pass it to ``prometheus_client`` or merge it into the
    default registry. Without the health port, metrics are recorded from the
    first call of this function on: call it before :func:`safe_polling.run_polling`.

    Returns:
        A :class:`prometheus_client.CollectorRegistry`.

    Raises:
        ModuleNotFoundError: If ``prometheus_client`` is not installed (install
            the ``metrics`` extra).

    Example:
        .. code-block:: python

            import prometheus_client
            from safe_polling import metrics_registry

            # A separate port of its own:
            prometheus_client.start_http_server(9100, registry=metrics_registry())
            # Or next to your own metrics, in the default registry:
            prometheus_client.REGISTRY.register(metrics_registry())

    .. versionadded:: 0.1.0
    """
    metrics = _load()
    if metrics is None:
        raise ModuleNotFoundError(INSTALL_HINT)
    return metrics.registry


def render_metrics() -> tuple[bytes, str] | None:
    """The Prometheus text exposition and its content type; None without the extra."""
    metrics = _load()
    if metrics is None:
        return None
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(metrics.registry), CONTENT_TYPE_LATEST


def role_changed(old: str, new: str) -> None:
    """Record a role change: the role gauge, lease terms, losses and the standby wait."""
    metrics = _active()
    if metrics is None or old == new:
        return
    now = time.monotonic()
    metrics.role.labels(old).set(0)
    metrics.role.labels(new).set(1)
    if new == "leader":
        metrics.lease_terms.inc()
        if old in _WAITING:
            metrics.lease_wait.observe(now - metrics.role_since)
    elif old == "leader" and new in _WAITING:
        metrics.lease_lost.inc()
    metrics.role_since = now


async def get_updates_call(request: Awaitable[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Await one getUpdates HTTP call, recording its outcome, duration and updates."""
    metrics = _active()
    if metrics is None:
        return await request
    started = time.monotonic()
    try:
        code, payload = await request
    except Exception as exc:
        outcome = "network" if isinstance(exc, NetworkError | OSError) else "error"
        metrics.get_updates.labels(outcome).inc()
        metrics.get_updates_seconds.observe(time.monotonic() - started)
        raise
    metrics.get_updates.labels(_OUTCOME_BY_STATUS.get(code, "http_error")).inc()
    metrics.get_updates_seconds.observe(time.monotonic() - started)
    if code == 200:
        metrics.last_ok.set(time.time())
        metrics.fetched.inc(len(_UPDATE_KEY.findall(payload)))
    return code, payload


def updates_skipped(count: int) -> None:
    """Record *count* re-delivered updates skipped as already handled."""
    metrics = _active()
    if metrics is not None and count:
        metrics.skipped.inc(count)


def handler_label(callback: object) -> str:
    """``module.qualname`` of a handler *callback*: a name from the code, never from data.

    A :func:`functools.partial` is named by its function, a bound method by its
    function (``module.Class.method``), a callable object by its class; a lambda
    is ``module.<lambda>`` (or ``module.outer.<locals>.<lambda>``), one name per
    place in the code however many are made.
    """
    while isinstance(callback, functools.partial):
        callback = callback.func
    callback = getattr(callback, "__func__", callback)
    if not hasattr(callback, "__qualname__"):
        callback = type(callback)
    module = getattr(callback, "__module__", None) or "unknown"
    return f"{module}.{callback.__qualname__}"


def handler_failed(callback: object | None) -> None:
    """Record a handler error that reached the error handler (*callback*: who raised)."""
    metrics = _active()
    if metrics is not None:
        label = "unknown" if callback is None else metrics.label_for(callback)
        metrics.failed.labels(label).inc()


def loop_block_seen() -> None:
    """Record that the watchdog saw the event loop blocked (called from its thread)."""
    metrics = _active()
    if metrics is not None:
        metrics.loop_blocks.inc()


def loop_block_ended(seconds: float) -> None:
    """Record how long a block the watchdog saw lasted (called from its thread)."""
    metrics = _active()
    if metrics is not None:
        metrics.loop_block_seconds.observe(seconds)


def watch_delivery_backlog(source: Callable[[], int]) -> None:
    """Report *source()* as the delivery backlog (the current term's tracker)."""
    metrics = _active()
    if metrics is not None:
        metrics.backlog_source = source


def queue_stats(stats: QueueStats) -> None:
    """Record the scale-out queue's figures (read every few seconds by the worker)."""
    metrics = _active()
    if metrics is not None:
        metrics.queue_backlog.set(stats.backlog)
        metrics.queue_oldest.set(stats.oldest_age)
        metrics.queue_owned.set(stats.partitions_owned)
        metrics.queue_dead.set(stats.dead_letters)


def _update_type(update: object) -> str:
    """The Bot API type of *update* (``message``, ``callback_query``...), a bounded label."""
    if not isinstance(update, Update):
        return "other"
    return next((kind for kind in Update.ALL_TYPES if getattr(update, kind, None)), "other")


class MeteredUpdateProcessor(BaseUpdateProcessor):
    """Wraps the application's update processor to count and time each update.

    Handlers with ``block=False`` run in tasks of their own; for those only the
    dispatch is timed.
    """

    def __init__(self, inner: BaseUpdateProcessor, metrics: _Metrics) -> None:
        super().__init__(inner.max_concurrent_updates)
        self.inner = inner
        self._metrics = metrics
        # The (duration, count) children per update type: .labels() takes a lock and
        # builds a key each time, two thirds of the per-update cost when not cached
        # (benchmarks/metrics_bench.py).
        self._children: dict[str, tuple[Any, Any]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        started = time.monotonic()
        try:
            await self.inner.do_process_update(update, coroutine)
        finally:
            kind = _update_type(update)
            children = self._children.get(kind)
            if children is None:
                metrics = self._metrics
                children = metrics.update_seconds.labels(kind), metrics.handled.labels(kind)
                self._children[kind] = children
            children[0].observe(time.monotonic() - started)
            children[1].inc()

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()


async def _timed_handle_update(
    self: BaseHandler[Any, Any, Any], update: Any, application: Any, check: Any, context: Any
) -> Any:
    """BaseHandler.handle_update, timed by the handler's callback while metering is on."""
    started = time.monotonic()
    try:
        return await _handle_update(self, update, application, check, context)
    finally:
        if _metrics is not None:
            _metrics.handler_timer(self.callback).observe(time.monotonic() - started)


_handle_update = BaseHandler.handle_update  # PTB's, called by the timed one
_metered_applications = 0  # the handler patch stays while this is above zero


def install_metering(application: Any) -> None:
    """Time the application's updates and handlers (no-op without the extra).

    Undone by :func:`remove_metering`; installing twice meters once.
    """
    global _metered_applications
    metrics = _active()
    remove_metering(application)
    if metrics is not None:
        processor = application._update_processor
        application._update_processor = MeteredUpdateProcessor(processor, metrics)
        with _lock:
            _metered_applications += 1
            BaseHandler.handle_update = _timed_handle_update  # type: ignore[method-assign,assignment]


def remove_metering(application: Any) -> None:
    """Undo :func:`install_metering` (no-op when not installed)."""
    global _metered_applications
    processor = application._update_processor
    if isinstance(processor, MeteredUpdateProcessor):
        application._update_processor = processor.inner
        with _lock:
            _metered_applications -= 1
            if not _metered_applications:
                BaseHandler.handle_update = _handle_update  # type: ignore[method-assign]
