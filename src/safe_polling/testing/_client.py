"""``FakeBotAPIClient``: drive a fake Bot API running in another process."""

from __future__ import annotations

import asyncio
import base64
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from safe_polling.testing._records import (
    Call,
    FakeStats,
    Sent,
    SentPredicate,
    describe_sent,
    sent_matcher,
)

if TYPE_CHECKING:
    from telegram.ext._applicationbuilder import InitApplicationBuilder


__all__ = [
    "FakeBotAPIClient",
]


class FakeBotAPIClient:
    """Async client of the control API of a fake started with ``python -m safe_polling.testing``.

    It mirrors the test-side API of :class:`FakeBotAPI` (as coroutines), so several processes
    (bots under test, the test itself) can share one fake Telegram.

    Example:
        .. code-block:: python

            async with FakeBotAPIClient("http://127.0.0.1:8081/_control") as client:
                await client.inject_message(42, "/start")
                reply = await client.wait_for_text(42, "Welcome")

    Args:
        control_base_url (:obj:`str`): The control root, ``http://HOST:PORT/_control``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, control_base_url: str) -> None:
        self.control_base_url = control_base_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))
        self._info: dict[str, Any] | None = None

    async def __aenter__(self) -> FakeBotAPIClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def connect(self) -> None:
        """Fetch the fake's addresses and token (``async with`` does this)."""
        self._info = await self._call("info")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _call(self, name: str, **body: Any) -> Any:
        response = await self._http.post(f"{self.control_base_url}/{name}", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"control API {name}: {response.status_code} {response.text}")
        return response.json()

    def _field(self, name: str) -> str:
        if self._info is None:
            raise RuntimeError("FakeBotAPIClient is not connected; use 'async with'")
        return str(self._info[name])

    @property
    def token(self) -> str:
        """The fake's configured or default token."""
        return self._field("token")

    @property
    def username(self) -> str:
        """The bot's username."""
        return self._field("username")

    @property
    def base_url(self) -> str:
        """PTB's ``base_url`` for this fake."""
        return self._field("base_url")

    @property
    def base_file_url(self) -> str:
        """PTB's ``base_file_url`` for this fake."""
        return self._field("base_file_url")

    def application_builder(self, token: str | None = None) -> InitApplicationBuilder:
        """A PTB ``ApplicationBuilder`` pointed at this fake.

        See :meth:`FakeBotAPI.application_builder`.
        """
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(token or self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    # ---- injection -----------------------------------------------------------------------

    async def _inject(self, kind: str, **body: Any) -> dict[str, Any]:
        result = await self._call(
            f"inject/{kind}", **{k: v for k, v in body.items() if v is not None}
        )
        update: dict[str, Any] = result["update"]
        return update

    async def inject_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        language_code: str | None = "en",
        first_name: str = "Test",
        username: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """See :meth:`FakeBotAPI.inject_message`."""
        return await self._inject(
            "message",
            user_id=user_id,
            text=text,
            chat_id=chat_id,
            language_code=language_code,
            first_name=first_name,
            username=username,
            token=token,
        )

    async def inject(self, kind: str, **arguments: Any) -> dict[str, Any]:
        """Any ``FakeBotAPI.inject_<kind>`` with the same keyword arguments, e.g.
        ``await client.inject("poll_answer", user_id=5, poll_id=pid, option_ids=[0])``."""
        return await self._inject(kind, **arguments)

    async def inject_callback_query(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
        require_button: bool = True,
        token: str | None = None,
    ) -> dict[str, Any]:
        """See :meth:`FakeBotAPI.inject_callback_query`."""
        return await self._inject(
            "callback_query",
            user_id=user_id,
            data=data,
            message_id=message_id,
            chat_id=chat_id,
            require_button=require_button,
            token=token,
        )

    # ---- the world -------------------------------------------------------------------------

    async def add_user(self, user_id: int, first_name: str = "Test", **options: Any) -> Any:
        """See :meth:`FakeBotAPI.add_user`."""
        return (await self._call("add_user", user_id=user_id, first_name=first_name, **options))[
            "user"
        ]

    async def add_group(self, chat_id: int, title: str | None = None, **options: Any) -> Any:
        """See :meth:`FakeBotAPI.add_group` (``members`` keys may be strings)."""
        return (await self._call("add_group", chat_id=chat_id, title=title, **options))["chat"]

    async def block_bot(self, user_id: int, *, token: str | None = None) -> Any:
        """See :meth:`FakeBotAPI.block_bot`."""
        return (await self._call("block", user_id=user_id, token=token))["update"]

    async def unblock_bot(self, user_id: int, *, token: str | None = None) -> Any:
        """See :meth:`FakeBotAPI.unblock_bot`."""
        return (await self._call("unblock", user_id=user_id, token=token))["update"]

    async def set_member_status(
        self, chat_id: int, user_id: int, status: str, **options: Any
    ) -> Any:
        """See :meth:`FakeBotAPI.set_member_status`."""
        body = {"chat_id": chat_id, "user_id": user_id, "status": status, **options}
        return (await self._call("member_status", **body))["update"]

    async def advance_time(self, seconds: float) -> None:
        """See :meth:`FakeBotAPI.advance_time`."""
        await self._call("advance_time", seconds=seconds)

    async def inject_photo(
        self, user_id: int, data: bytes, caption: str | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """See :meth:`FakeBotAPI.inject_photo`."""
        encoded = base64.b64encode(data).decode()
        return await self._inject(
            "photo", user_id=user_id, data_b64=encoded, caption=caption, token=token
        )

    async def inject_pre_checkout_query(
        self,
        user_id: int,
        payload: str,
        total_amount: int,
        currency: str = "XTR",
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """See :meth:`FakeBotAPI.inject_pre_checkout_query`."""
        return await self._inject(
            "pre_checkout_query",
            user_id=user_id,
            payload=payload,
            total_amount=total_amount,
            currency=currency,
            token=token,
        )

    async def inject_successful_payment(
        self,
        user_id: int,
        payload: str,
        total_amount: int,
        telegram_payment_charge_id: str,
        currency: str = "XTR",
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """See :meth:`FakeBotAPI.inject_successful_payment`."""
        return await self._inject(
            "successful_payment",
            user_id=user_id,
            payload=payload,
            total_amount=total_amount,
            telegram_payment_charge_id=telegram_payment_charge_id,
            currency=currency,
            token=token,
        )

    async def inject_raw(
        self, update: dict[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        """See :meth:`FakeBotAPI.inject_raw`."""
        return await self._inject("raw", update=update, token=token)

    async def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        token: str | None = None,
    ) -> None:
        """See :meth:`FakeBotAPI.fail_next`."""
        body = {"description": description, "retry_after": retry_after, "token": token}
        await self._call(
            "fail_next",
            method=method,
            error_code=error_code,
            times=times,
            **{k: v for k, v in body.items() if v is not None},
        )

    async def set_latency(self, seconds: float, *, method: str | None = None) -> None:
        """See :meth:`FakeBotAPI.set_latency`."""
        await self._call("latency", seconds=seconds, **({"method": method} if method else {}))

    async def latency(self) -> dict[str, Any]:
        """See :attr:`FakeBotAPI.latency`."""
        result: dict[str, Any] = await self._call("latency")
        return result

    async def set_webhook(self, url: str, *, token: str | None = None) -> None:
        """See :meth:`FakeBotAPI.set_webhook`."""
        await self._call("webhook", url=url, **({"token": token} if token else {}))

    async def set_webhook_error(self, message: str, *, token: str | None = None) -> None:
        """See :meth:`FakeBotAPI.set_webhook_error`."""
        await self._call("webhook_error", message=message, **({"token": token} if token else {}))

    # ---- reading -------------------------------------------------------------------------

    async def _sent_page(self, after: int, wait: float, **filters: Any) -> tuple[list[Sent], int]:
        body = {
            "after": after,
            "wait": wait,
            **{k: v for k, v in filters.items() if v is not None},
        }
        result = await self._call("sent", **body)
        return [Sent.from_dict(s) for s in result["sent"]], int(result["count"])

    async def sent(self, chat_id: int | None = None, *, token: str | None = None) -> list[Sent]:
        """See :meth:`FakeBotAPI.sent`."""
        items, _ = await self._sent_page(0, 0, chat_id=chat_id, token=token)
        return items

    async def calls(self) -> list[Call]:
        """See :attr:`FakeBotAPI.calls`."""
        result = await self._call("calls")
        return [Call.from_dict(c) for c in result["calls"]]

    async def stats(self) -> FakeStats:
        """See :attr:`FakeBotAPI.stats`."""
        return FakeStats.from_dict(await self._call("stats"))

    async def pending_updates(self, *, token: str | None = None) -> list[dict[str, Any]]:
        """See :meth:`FakeBotAPI.pending_updates`."""
        result = await self._call("pending", **({"token": token} if token else {}))
        updates: list[dict[str, Any]] = result["updates"]
        return updates

    async def file_bytes(self, file_id: str, *, token: str | None = None) -> bytes:
        """See :meth:`FakeBotAPI.file_bytes`."""
        result = await self._call("file", file_id=file_id, **({"token": token} if token else {}))
        return base64.b64decode(result["data_b64"])

    async def reset_stats(self) -> None:
        """See :meth:`FakeBotAPI.reset_stats`."""
        await self._call("reset_stats")

    async def reset(self) -> None:
        """See :meth:`FakeBotAPI.reset`."""
        await self._call("reset")

    async def wait_for(
        self,
        what: str | SentPredicate,
        *,
        chat_id: int | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Sent:
        """See :meth:`FakeBotAPI.wait_for` (the predicate runs here, on fetched records)."""
        matches = sent_matcher(what, chat_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index, seen = after, []
        while True:
            remaining = deadline - loop.time()
            items, count = await self._sent_page(index, max(0.0, min(remaining, 10.0)))
            seen.extend(items)
            for item in items:
                if matches(item):
                    return item
            index = max(index, count)
            if deadline - loop.time() <= 0:
                raise TimeoutError(
                    f"no matching sent record within {timeout}s; last ones:\n"
                    + describe_sent(seen)
                )

    async def wait_for_text(
        self, chat_id: int, substring: str, *, timeout: float = 5.0, after: int = 0
    ) -> Sent:
        """See :meth:`FakeBotAPI.wait_for_text`."""
        return await self.wait_for(
            lambda s: s.message is not None and substring in (s.text or ""),
            chat_id=chat_id,
            timeout=timeout,
            after=after,
        )
