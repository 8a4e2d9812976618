"""A gate in front of every getUpdates request: the lease fence.

PTB's Updater calls ``bot.get_updates`` from its own loop; the only public seam
in front of each of those calls is the bot's ``get_updates_request`` (a
:class:`telegram.request.BaseRequest`, used for getUpdates and nothing else).
Wrapping it lets the leader check "do I still hold the lease?" right before
every getUpdates, without forking PTB's polling loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from telegram.request import BaseRequest, RequestData

logger = logging.getLogger("safe_polling")

# What a fenced getUpdates answers: "no updates". The Updater treats it like an
# empty long poll, confirms nothing, and the supervisor stops it at once; the
# updates stay on Telegram's side for the next leader.
_EMPTY_UPDATES = b'{"ok":true,"result":[]}'
# A closed fence answers after a pause so the Updater's loop does not spin while
# the supervisor is stopping it.
_CLOSED_FENCE_PAUSE = 0.5


class Fence(Protocol):
    """What the gate needs from a lease: a cheap "still mine?" check."""

    async def ensure_held(self) -> None:
        """Return if the lease is surely held, raise if not."""


class FencedRequest(BaseRequest):
    """Delegates to *inner*, but only after *fence* confirms the lease."""

    def __init__(self, inner: BaseRequest, fence: Fence) -> None:
        self.inner = inner
        self._fence = fence
        self.closed = False

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if not self.closed:
            try:
                await self._fence.ensure_held()
            except Exception as exc:
                self.closed = True
                logger.warning("🛑 Polling lease not confirmed (%s); no more getUpdates", exc)
        if self.closed:
            if _is_long_poll(request_data):
                await asyncio.sleep(_CLOSED_FENCE_PAUSE)
            return 200, _EMPTY_UPDATES
        return await self.inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )


def _is_long_poll(request_data: RequestData | None) -> bool:
    # Updater.stop() confirms offsets with timeout=0: answer that one at once.
    timeout = request_data.json_parameters.get("timeout") if request_data else None
    return timeout not in (None, "0", "0.0")


def install_fence(bot: Any, fence: Fence) -> FencedRequest:
    """Put a fence in front of *bot*'s getUpdates request; returns the gate."""
    remove_fence(bot)
    updates_request, other_request = bot._request
    gate = FencedRequest(updates_request, fence)
    bot._request = (gate, other_request)
    return gate


def remove_fence(bot: Any) -> None:
    """Undo :func:`install_fence` (no-op when no fence is installed)."""
    updates_request, other_request = bot._request
    if isinstance(updates_request, FencedRequest):
        bot._request = (updates_request.inner, other_request)
