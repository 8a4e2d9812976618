"""Gates in front of the bot's requests: the lease fence and the clock, one deleteWebhook.

PTB's Updater calls ``bot.get_updates`` from its own loop; the only public seam
in front of each of those calls is the bot's ``get_updates_request`` (a
:class:`telegram.request.BaseRequest`, used for getUpdates and nothing else).
Wrapping it lets the leader check "do I still hold the lease?" right before
every getUpdates, confirm to Telegram only updates that were handled (the
delivery tracker), and stamp each successful getUpdates for the health
endpoint, without forking PTB's polling loop.

``Updater.start_polling`` always calls deleteWebhook in its bootstrap, one round trip
(30-100 ms from a hosted bot to Telegram) on every start and every handover. When the start
has just deleted the webhook itself, or the preflight saw none, a one-shot gate on the other
request object (``Bot._request[1]``) answers that one call from what is known. Should a webhook
be set after all (by someone else, after the preflight looked), Telegram answers getUpdates
with a 409 "webhook is active" and the getUpdates gate deletes it then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from ._delivery import DeliveryTracker, encode_updates, filter_payload
from ._metrics import get_updates_call
from ._status import PollingStatus

__all__ = [
    "BootstrapSkip",
    "Fence",
    "GetUpdatesGate",
    "install_bootstrap_skip",
    "install_gate",
    "remove_bootstrap_skip",
    "remove_gate",
    "wait_for_get_updates_to_end",
]

logger = logging.getLogger("safe_polling")

# What a fenced getUpdates answers: "no updates". The Updater treats it like an
# empty long poll, confirms nothing, and the supervisor stops it at once; the
# updates stay on Telegram's side for the next leader.
_EMPTY_UPDATES = b'{"ok":true,"result":[]}'
_DELETED = b'{"ok":true,"result":true}'
# Telegram's 409 description when a webhook blocks getUpdates (reference/telegram.md).
_WEBHOOK_ACTIVE = b"webhook is active"
# A closed fence answers after a pause so the Updater's loop does not spin while
# the supervisor is stopping it.
_CLOSED_FENCE_PAUSE = 0.5
# How long a stop waits for its cancelled long poll to close (it takes one loop turn).
_CLOSE_WAIT = 2.0


class Fence(Protocol):
    """What the gate needs from a lease: a cheap "still mine?" check."""

    async def ensure_held(self) -> None:
        """Return if the lease is surely held, raise if not."""


class _Delegating(BaseRequest):
    """A request object that passes everything to *inner*; gates override ``do_request``."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

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
        return await self.inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )


class GetUpdatesGate(_Delegating):
    """Delegates to *inner*, but only after *fence* (if any) confirms the lease."""

    def __init__(
        self,
        inner: BaseRequest,
        fence: Fence | None,
        status: PollingStatus | None,
        delivery: DeliveryTracker | None,
    ) -> None:
        super().__init__(inner)
        self._fence = fence
        self._status = status
        self._delivery = delivery
        self.closed = False
        self._calls = 0  # getUpdates calls on their way to Telegram
        self._no_calls = asyncio.Event()
        self._no_calls.set()

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
        if self._fence is not None and not self.closed:
            try:
                await self._fence.ensure_held()
            except Exception as exc:
                self.closed = True
                logger.warning("🛑 Polling lease not confirmed (%s); no more getUpdates", exc)
        if self.closed:
            if _is_long_poll(request_data):
                await asyncio.sleep(_CLOSED_FENCE_PAUSE)
            return 200, _EMPTY_UPDATES
        if self._delivery is not None:
            await self._delivery.wait_for_room()
            request_data = _with_offset(request_data, self._delivery)
        self._calls += 1
        self._no_calls.clear()
        try:
            code, payload = await get_updates_call(
                super().do_request(
                    url,
                    method,
                    request_data,
                    read_timeout=read_timeout,
                    write_timeout=write_timeout,
                    connect_timeout=connect_timeout,
                    pool_timeout=pool_timeout,
                )
            )
        finally:
            self._calls -= 1
            if not self._calls:
                self._no_calls.set()
        if code == 409 and _WEBHOOK_ACTIVE in payload:
            await self._delete_webhook(url)
        if code == 200 and self._status is not None:
            self._status.mark_get_updates_ok()
        if code == 200 and self._delivery is not None:
            updates, ok = filter_payload(payload)
            if ok:
                payload = encode_updates(await self._delivery.accept(updates))
        return code, payload

    async def calls_ended(self) -> None:
        """Return once no getUpdates of this gate is on its way to Telegram.

        ``Updater.stop()`` cancels its long poll without waiting for it: until the
        cancellation has run, the request is open, and Telegram answers the next
        leader's first getUpdates with 409 while it sees it.
        """
        await self._no_calls.wait()

    async def _delete_webhook(self, get_updates_url: str) -> None:
        """Delete a webhook set after the start looked; the next getUpdates then goes through."""
        logger.warning("⚠️ A webhook is set for this token; deleting it to keep polling")
        try:
            await self.inner.do_request(
                get_updates_url.rsplit("/", 1)[0] + "/deleteWebhook", "POST"
            )
        except Exception as exc:  # PTB retries getUpdates; the next 409 tries again
            logger.warning("⚠️ deleteWebhook failed (non-fatal): %s: %s", type(exc).__name__, exc)


class BootstrapSkip(_Delegating):
    """Answers the next deleteWebhook itself (no webhook is set), then passes all through."""

    def __init__(self, inner: BaseRequest) -> None:
        super().__init__(inner)
        self.armed = True

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
        if self.armed and url.endswith("/deleteWebhook"):
            self.armed = False
            return 200, _DELETED
        return await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )


def _with_offset(request_data: RequestData | None, delivery: DeliveryTracker) -> RequestData:
    """*request_data* with the offset the tracker allows to confirm."""
    params = list(request_data.parameters.items()) if request_data else []
    value = dict(params).get("offset", 0)
    requested = value if isinstance(value, int) else int(str(value))
    offset = delivery.offset(requested)
    rebuilt = [RequestParameter.from_input(k, v) for k, v in params if k != "offset"]
    if offset:
        rebuilt.append(RequestParameter.from_input("offset", offset))
    return RequestData(rebuilt)


def _is_long_poll(request_data: RequestData | None) -> bool:
    # Updater.stop() confirms offsets with timeout=0: answer that one at once.
    timeout = request_data.json_parameters.get("timeout") if request_data else None
    return timeout not in (None, "0", "0.0")


def install_gate(
    bot: Any,
    fence: Fence | None = None,
    status: PollingStatus | None = None,
    delivery: DeliveryTracker | None = None,
) -> GetUpdatesGate:
    """Put a gate in front of *bot*'s getUpdates request (``Bot._request[0]``)."""
    remove_gate(bot)
    updates_request, other_request = bot._request
    gate = GetUpdatesGate(updates_request, fence, status, delivery)
    bot._request = (gate, other_request)
    return gate


async def wait_for_get_updates_to_end(bot: Any, timeout: float = _CLOSE_WAIT) -> None:
    """Wait (at most *timeout* seconds) until *bot*'s gated getUpdates calls have ended.

    Call it after ``Updater.stop()`` and before giving up the lease: the next leader's
    first getUpdates must not find this one's still open.
    """
    gate = bot._request[0]
    if isinstance(gate, GetUpdatesGate):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await gate.calls_ended()


def install_bootstrap_skip(bot: Any) -> None:
    """Answer the next deleteWebhook of *bot* without a call (``Bot._request[1]``)."""
    remove_bootstrap_skip(bot)
    updates_request, other_request = bot._request
    bot._request = (updates_request, BootstrapSkip(other_request))


def remove_bootstrap_skip(bot: Any) -> None:
    """Undo :func:`install_bootstrap_skip` (no-op when it is not installed)."""
    updates_request, other_request = bot._request
    if isinstance(other_request, BootstrapSkip):
        bot._request = (updates_request, other_request.inner)


def remove_gate(bot: Any) -> None:
    """Undo :func:`install_gate` (no-op when no gate is installed)."""
    updates_request, other_request = bot._request
    if isinstance(updates_request, GetUpdatesGate):
        bot._request = (updates_request.inner, other_request)
