"""The one supported path that starts polling, and the one that stops it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from telegram.ext import Application

from ._delivery import DeliveryTracker, install_tracking, remove_tracking
from ._errors import PollingErrorCallback
from ._gate import (
    Fence,
    install_bootstrap_skip,
    install_gate,
    remove_bootstrap_skip,
    remove_gate,
    wait_for_get_updates_to_end,
)
from ._metrics import install_metering, remove_metering
from ._status import PollingStatus

__all__ = ["safe_start_polling", "safe_stop_polling"]

logger = logging.getLogger("safe_polling")

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

# The process-wide guard. A threading lock, not an asyncio one: it must hold
# across event loops and threads, and it is only held for a flag flip.
_guard_lock = threading.Lock()
_polling_app: AnyApplication | None = None


def claim_guard(application: AnyApplication) -> bool:
    global _polling_app
    with _guard_lock:
        if _polling_app is not None:
            return False
        _polling_app = application
        return True


def release_guard(application: AnyApplication) -> None:
    global _polling_app
    with _guard_lock:
        if _polling_app is application:
            _polling_app = None


def _reset_guard_for_tests() -> None:
    global _polling_app
    with _guard_lock:
        _polling_app = None


async def safe_start_polling(
    application: AnyApplication,
    *,
    drop_updates: bool = True,
    allowed_updates: Sequence[str] | None = None,
    poll_interval: float = 0.0,
    timeout: int = 10,
    error_callback: PollingErrorCallback | None = None,
) -> bool:
    """Start polling, once per process: delete the webhook, initialize, start, poll.

    This is the only supported way to start polling with safe-polling. It
    is the fix for the 409 storm on every deploy that a production bot met
    when two pollers overlapped or a webhook was still set:

    1. A process-wide guard: while one application polls through this function,
       any second call (concurrent or later, with any application) logs
       ``⚠️ Polling already started; skip second start`` and starts nothing.
       :func:`safe_stop_polling` releases the guard.
    2. ``deleteWebhook(drop_pending_updates=drop_updates)``, because a webhook
       that is still set makes every getUpdates fail with 409. A failure here
       is logged and is not fatal.
    3. ``application.initialize()``, ``application.start()`` and
       ``application.updater.start_polling(...)`` with a
       :class:`PollingErrorCallback`, so a 409 becomes one clear warning
       instead of a traceback per retry.

    It logs, at INFO on the ``safe_polling`` logger, in this order::

        🗑️ Deleting webhook and dropping pending updates...
        🔧 Initializing application...
        📡 Starting polling...
        ✅ Polling started successfully!

    It does not call ``post_init`` (like PTB's own manual start); use
    :func:`run_polling` for the full lifecycle with signals, hooks and the lease.

    Args:
        application: The PTB application (with an updater).
        drop_updates: Drop updates that arrived while the bot was down.
        allowed_updates: Passed to ``start_polling``.
        poll_interval: Passed to ``start_polling``.
        timeout: Long-polling timeout in seconds, passed to ``start_polling``.
        error_callback: Replaces the default :class:`PollingErrorCallback`.

    Returns:
        :obj:`True` if this call started polling, :obj:`False` if the guard
        skipped it.

    Raises:
        telegram.error.InvalidToken: Telegram rejected the token (the guard is
            released and the application shut down again).

    Example:
        .. code-block:: python

            from safe_polling import safe_start_polling, safe_stop_polling

            async def main() -> None:
                application = ApplicationBuilder().token(TOKEN).build()
                await safe_start_polling(application, drop_updates=True)
                ...  # run until you want to stop
                await safe_stop_polling(application)

    .. versionadded:: 0.1.0
    """
    return await start_guarded(
        application,
        drop_updates=drop_updates,
        allowed_updates=allowed_updates,
        poll_interval=poll_interval,
        timeout=timeout,
        error_callback=error_callback,
    )


async def start_guarded(
    application: AnyApplication,
    *,
    drop_updates: bool,
    allowed_updates: Sequence[str] | None,
    poll_interval: float,
    timeout: int,
    error_callback: PollingErrorCallback | None,
    fence: Fence | None = None,
    status: PollingStatus | None = None,
    delivery: DeliveryTracker | None = None,
    call_post_init: bool = False,
    webhook: dict[str, Any] | None = None,
) -> bool:
    """Start polling (see :func:`safe_start_polling`).

    *webhook* is the getWebhookInfo answer the preflight saw (:obj:`None`: not known). Then
    deleteWebhook is called only when it has work to do, and PTB's bootstrap, which would call
    it once more, is answered from what is known: one round trip or none instead of two.
    """
    if application.updater is None:
        raise ValueError("safe_start_polling needs an Application built with an Updater")
    if not claim_guard(application):
        logger.warning("⚠️ Polling already started; skip second start")
        return False
    try:
        deleted = await delete_webhook_if_needed(application, drop_updates, webhook)
        logger.info("🔧 Initializing application...")
        await application.initialize()
        if call_post_init and application.post_init:
            await application.post_init(application)
        logger.info("📡 Starting polling...")
        install_gate(application.bot, fence, status, delivery)
        if delivery is not None:
            install_tracking(application, delivery)
        install_metering(application)  # outermost: remove_metering comes first on stop
        await application.start()
        if deleted:
            install_bootstrap_skip(application.bot)
        try:
            await application.updater.start_polling(
                poll_interval=poll_interval,
                timeout=timeout,
                allowed_updates=allowed_updates,
                drop_pending_updates=drop_updates,
                error_callback=error_callback or PollingErrorCallback(),
            )
        finally:
            remove_bootstrap_skip(application.bot)
    except BaseException:
        await stop_guarded(application, call_post_stop=False, delivery=delivery)
        raise
    logger.info("✅ Polling started successfully!")
    return True


def _webhook_work(drop_updates: bool, webhook: dict[str, Any] | None) -> str | None:
    """Why deleteWebhook has nothing to do, or None when it must be called."""
    if webhook is None or webhook.get("url"):
        return None
    # Dropping is for updates that waited while the bot was down; one that arrives after
    # the check is as new as the start itself, and is kept.
    pending = int(webhook.get("pending_update_count") or 0)
    if drop_updates and pending:
        return None
    return "nothing to do: no webhook" + (", no pending update" if drop_updates else "")


async def delete_webhook_if_needed(
    application: AnyApplication, drop_updates: bool, webhook: dict[str, Any] | None
) -> bool:
    """Delete the webhook when needed; True once no webhook is set (PTB need not check again)."""
    line = "🗑️ Deleting webhook" + (" and dropping pending updates" if drop_updates else "")
    idle = _webhook_work(drop_updates, webhook)
    if idle is not None:
        # The preflight (or the warm-up before the lease) asked Telegram: keep the line
        # operators watch for, and say why no call follows.
        logger.info("%s... (%s, seen before the start)", line, idle)
        return True
    logger.info("%s...", line)
    try:
        await application.bot.delete_webhook(drop_pending_updates=drop_updates)
    except Exception as exc:
        # Not fatal: PTB's start_polling deletes the webhook again in its
        # bootstrap, and a real problem (bad token) surfaces in initialize().
        logger.warning("⚠️ deleteWebhook failed (non-fatal): %s: %s", type(exc).__name__, exc)
        return False
    return True


async def safe_stop_polling(application: AnyApplication) -> None:
    """Stop what :func:`safe_start_polling` started, and release the guard.

    In PTB's order: ``updater.stop()`` (which confirms the fetched updates to
    Telegram), ``application.stop()`` (which finishes the updates in flight),
    ``application.shutdown()``. Safe to call when polling is not running. After
    it returns, this process may start polling again.

    .. versionadded:: 0.1.0
    """
    await stop_guarded(application, call_post_stop=False)


async def stop_guarded(
    application: AnyApplication,
    *,
    call_post_stop: bool,
    delivery: DeliveryTracker | None = None,
    confirm: bool = True,
) -> None:
    """Stop in PTB's order; *confirm*: end with a getUpdates confirming what the drain handled.

    Not after the lease went to the next leader: a getUpdates from here would end its poll
    with a 409. It gets those updates again and skips them (they are recorded).
    """
    try:
        await stop_fetching(application)
        if application.running:
            await application.stop()  # finish the updates in flight
            if delivery is not None:
                await _record_on_stop(delivery)
                if confirm:
                    await _confirm_handled(application, delivery)
            if call_post_stop and application.post_stop:
                await application.post_stop(application)
    finally:
        try:
            remove_metering(application)
            remove_tracking(application)
            remove_gate(application.bot)
            await application.shutdown()
        finally:
            release_guard(application)


async def stop_fetching(application: AnyApplication) -> None:
    """Stop PTB's polling; return once its last getUpdates has closed.

    ``Updater.stop()`` confirms the offset but cancels its long poll without waiting for
    it: until that cancel has run the request is open, and whoever polls next (the next
    leader, or this process confirming what it handled) would end it with a 409.
    """
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    await wait_for_get_updates_to_end(application.bot)


async def _record_on_stop(delivery: DeliveryTracker) -> None:
    """Record what the drain finished; a database that is down must not crash the stop.

    The handled updates are confirmed to Telegram all the same (a confirmed update
    is never delivered again, so it needs no record to be skipped).
    """
    try:
        await delivery.aclose()
    except Exception as exc:
        logger.warning("⚠️ Could not record handled updates on stop: %s", exc)


async def _confirm_handled(application: AnyApplication, delivery: DeliveryTracker) -> None:
    """Confirm to Telegram what finished during the drain.

    ``updater.stop()`` confirmed only what was handled before the drain; one
    last getUpdates (through the gate: still fenced) confirms the rest, so the
    next leader is not sent them again.
    """
    try:
        await application.bot.get_updates(offset=delivery.offset(0), timeout=0, limit=1)
    except Exception as exc:  # the next leader's dedupe covers what is not confirmed
        logger.warning("⚠️ Could not confirm handled updates on stop: %s", exc)
