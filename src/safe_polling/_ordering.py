"""Update processors that keep each chat's updates in order while chats run concurrently.

With ``ApplicationBuilder().concurrent_updates(8)`` PTB starts every update as
soon as a slot is free, so a user's quick "yes" can be handled before the
"/buy" sent just before it. :class:`PerChatUpdateProcessor` chains the updates
of one chat (one at a time, in the order PTB received them) and leaves
different chats concurrent, like grammY's ``sequentialize`` in one process.

The order is fixed when PTB hands an update to the processor: PTB starts one
task per update in arrival order and the concurrency semaphore wakes its
waiters first-in first-out, so the chain is built synchronously in arrival
order, before the first ``await``.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
from collections.abc import Awaitable, Hashable
from typing import Any, final

from telegram import Update
from telegram.ext import BaseUpdateProcessor

__all__ = ["OrderedUpdateProcessor", "PerChatUpdateProcessor", "chat_key"]


def chat_key(update: object) -> Hashable | None:
    """The key that orders *update*: its chat id, else its user id, else :obj:`None`.

    Updates without a chat (inline queries, pre-checkout queries) are ordered per
    user, since the same user's next step depends on them; updates with neither
    (polls, chat boosts without a source) are not ordered at all.

    Args:
        update: What PTB passes to the update processor.

    Returns:
        ``("chat", id)``, ``("user", id)`` or :obj:`None`.

    Example:
        >>> from telegram import Chat, Message, Update
        >>> import datetime as dt
        >>> message = Message(1, dt.datetime.now(), Chat(42, "private"), text="hi")
        >>> chat_key(Update(1, message=message))
        ('chat', 42)

    .. versionadded:: 0.1.0
    """
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


class OrderedUpdateProcessor(BaseUpdateProcessor, abc.ABC):
    """An update processor that handles updates with the same key one at a time, in order.

    Subclasses say which updates belong together in :meth:`do_order_key`; updates
    with different keys (or the key :obj:`None`) run concurrently, up to
    *max_concurrent_updates*. :meth:`do_process_update` is final: it waits for the
    previous update with the same key, then awaits the handler coroutine.

    A waiting update holds one of PTB's concurrency slots, so a chat that sends
    more quick messages than *max_concurrent_updates* delays other chats until
    its backlog shrinks; size the limit above a chat's usual burst.

    Args:
        max_concurrent_updates: PTB's limit of updates handled at once.

    .. versionadded:: 0.1.0
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        # key -> the future of the last update with that key (done when it finishes)
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    @abc.abstractmethod
    def do_order_key(self, update: object) -> Hashable | None:
        """The key of the updates that must not overtake each other, or :obj:`None`.

        Args:
            update: What PTB passes to the processor (usually a :class:`telegram.Update`).

        Returns:
            A hashable key, or :obj:`None` to handle *update* without ordering.
        """

    @property
    def ordered_keys(self) -> int:
        """How many keys have an update in flight or waiting right now.

        .. versionadded:: 0.1.0
        """
        return len(self._tails)

    @final
    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the previous update with the same key, then await *coroutine*.

        Args:
            update: The update.
            coroutine: PTB's handling of it.
        """
        key = self.do_order_key(update)
        if key is None:
            await coroutine
            return
        # No await before the tail is replaced: this is what fixes the order.
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if previous is not None:
                # Shielded: a cancelled waiter must not cancel its predecessor's future.
                await asyncio.shield(previous)
            await coroutine
        finally:
            if not mine.done():
                mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]
            _discard_unstarted(coroutine)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB awaits every update before shutting the processor down."""


def _discard_unstarted(coroutine: Awaitable[Any]) -> None:
    """Close *coroutine* if it never started (its wait was cancelled), without a warning."""
    if inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(coroutine) == "CORO_CREATED":
        coroutine.close()


class PerChatUpdateProcessor(OrderedUpdateProcessor):
    """Keeps each chat's updates in order; different chats run concurrently.

    Pass it to ``ApplicationBuilder().concurrent_updates(...)`` instead of a
    number. Updates are keyed by :func:`chat_key`.

    Args:
        max_concurrent_updates: How many updates (of different chats) run at once.

    Example:
        .. code-block:: python

            from telegram.ext import ApplicationBuilder
            from safe_polling import PerChatUpdateProcessor

            application = (
                ApplicationBuilder()
                .token(TOKEN)
                .concurrent_updates(PerChatUpdateProcessor(8))
                .build()
            )

    .. versionadded:: 0.1.0
    """

    def do_order_key(self, update: object) -> Hashable | None:
        """The chat (else user) of *update*, from :func:`chat_key`."""
        return chat_key(update)
