"""``FakeBotAPI``: the in-process fake Telegram Bot API server and its test-side API."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from safe_polling.testing import _control, _http, _polling
from safe_polling.testing._core import DEFAULT_USERNAME, Core, make_token
from safe_polling.testing._flood import FloodLimits
from safe_polling.testing._records import (
    Call,
    FakeStats,
    Sent,
    SentPredicate,
    describe_sent,
    sent_matcher,
)
from safe_polling.testing._scenario import Scenario

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext._applicationbuilder import InitApplicationBuilder


__all__ = [
    "FakeBotAPI",
]


class FakeBotAPI(Scenario):
    """An offline, faithful fake of the Telegram Bot API server, for tests.

    Serves ``/bot<token>/<method>`` over real HTTP on 127.0.0.1 (python-telegram-bot talks to
    it unchanged through ``base_url``) with the real server's long polling, offset
    confirmation, 409 Conflict rules (including their 3 s throttling), webhook methods, token
    checks and error descriptions. The test side injects updates and reads what the bot sent.
    State is kept per bot token; by default any well-formed token is accepted.

    Example:
        .. code-block:: python

            from safe_polling.testing import FakeBotAPI

            async def test_start_replies():
                async with FakeBotAPI() as api:
                    app = api.application_builder().build()
                    app.add_handler(CommandHandler("start", start))
                    async with app:
                        await app.start()
                        await app.updater.start_polling()
                        api.inject_message(42, "/start")
                        reply = await api.wait_for_text(42, "Welcome")
                        await app.updater.stop()
                        await app.stop()
                assert reply.message["chat"]["id"] == 42

    Args:
        token (:obj:`str`, optional): Accept only this token (any other gets 401
            ``Unauthorized``). By default any well-formed token is accepted and
            :attr:`token` is a fresh one.
        host (:obj:`str`, optional): Address to listen on. Defaults to ``"127.0.0.1"``.
        port (:obj:`int`, optional): Port; ``0`` (default) picks a free one.
        username (:obj:`str`, optional): The bot's username in ``getMe`` and in messages.
        conflict_delay (:obj:`float`, optional): Throttle of 409 answers: at most one per this
            many seconds goes out at once, later ones wait this long. Defaults to ``3.0`` like the
            real server; tests use a small value.
        latency (:obj:`float`, optional): A simulated network round trip in seconds, waited
            half before the fake handles a call and half before its answer leaves (long-poll
            getUpdates included). Defaults to ``0.0`` (loopback). Benchmarks use ``0.06``, a
            bot hosted 60 ms away from Telegram.
        method_latency (Mapping[:obj:`str`, :obj:`float`], optional): Round trips of single
            methods (case-insensitive), e.g. ``{"getUpdates": 0.1}``; they win over
            ``latency``. Change both later with :meth:`set_latency`.
        strict_chats (:obj:`bool`, optional): Refuse to send to a chat the bot does not know
            (``400 Bad Request: chat not found``), as Telegram does: a private chat exists once
            its user wrote to the bot or :meth:`add_user` declared it, a group once declared or
            written in. Defaults to :obj:`True`; :obj:`False` accepts any chat id.
        flood_control (:class:`FloodLimits`, optional): Telegram's send limits, answered with
            ``429 Too Many Requests: retry after N`` (see :meth:`set_flood_control`). Off by
            default.

    Raises:
        ValueError: A malformed ``token``, or a negative latency.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = DEFAULT_USERNAME,
        conflict_delay: float = 3.0,
        latency: float = 0.0,
        method_latency: Mapping[str, float] | None = None,
        strict_chats: bool = True,
        flood_control: FloodLimits | None = None,
    ) -> None:
        self._core = Core(token, username, conflict_delay, strict_chats)
        self._core.set_flood_limits(flood_control)
        self._core.latency.set(latency)
        for method, seconds in (method_latency or {}).items():
            self._core.latency.set(seconds, method)
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving (``async with`` does this)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        _control.add_routes(app, self)
        _http.add_routes(app, self._core)
        # handler_cancellation: a client that disconnects stops polling at once, so the
        # concurrency counters only see live pollers.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving; waiting long polls are answered empty first."""
        for state in self._core.states.values():
            state.wake(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port being served (raises :exc:`RuntimeError` before :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._port

    @property
    def url(self) -> str:
        """The server root, e.g. ``"http://127.0.0.1:8081"``."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """PTB's ``base_url``: ``"http://127.0.0.1:PORT/bot"``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB's ``base_file_url``: ``"http://127.0.0.1:PORT/file/bot"``."""
        return f"{self.url}/file/bot"

    @property
    def control_url(self) -> str:
        """Root of the JSON control API used by :class:`FakeBotAPIClient`."""
        return f"{self.url}/_control"

    @property
    def token(self) -> str:
        """The configured token, or a well-formed default one."""
        return self._core.token

    @property
    def username(self) -> str:
        """The bot's username (``getMe``)."""
        return self._core.username

    @staticmethod
    def make_token() -> str:
        """A fresh well-formed token (its state is separate from :attr:`token`'s)."""
        return make_token()

    def application_builder(self, token: str | None = None) -> InitApplicationBuilder:
        """A PTB ``ApplicationBuilder`` already pointed at this fake.

        Returns ``ApplicationBuilder().token(token).base_url(...).base_file_url(...)``; add
        handlers and other settings as usual.

        Args:
            token (:obj:`str`, optional): Defaults to :attr:`token`.
        """
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(token or self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    def bot(self, token: str | None = None) -> Bot:
        """A PTB ``Bot`` pointed at this fake (use it as ``async with api.bot() as bot``)."""
        from telegram import Bot

        return Bot(token or self.token, base_url=self.base_url, base_file_url=self.base_file_url)

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        token: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error, e.g. flood control.

        Args:
            method (:obj:`str`): Method name (case-insensitive), e.g. ``"sendMessage"``.
            error_code (:obj:`int`, optional): HTTP status and ``error_code``. Defaults to 429.
            description (:obj:`str`, optional): Defaults to the real server's wording for 429
                (``Too Many Requests: retry after N``), 502 (``Bad Gateway``) and 500.
            retry_after (:obj:`int`, optional): Sent as ``parameters.retry_after`` (429 defaults
                to 1 s).
            times (:obj:`int`, optional): How many calls fail. Defaults to 1.
            token (:obj:`str`, optional): The bot; defaults to :attr:`token`.
        """
        self._core.plan_error(
            token or self.token, method, error_code, description, retry_after, times
        )

    def set_latency(self, seconds: float, *, method: str | None = None) -> None:
        """Set the simulated round trip of every call, or of one method; see ``latency``.

        Calls already waiting keep the round trip they started with.

        Args:
            seconds (:obj:`float`): The round trip; ``0`` answers at once.
            method (:obj:`str`, optional): Only this method (case-insensitive), e.g.
                ``"getUpdates"``; it then wins over the round trip of every call.

        Raises:
            ValueError: A negative or non-finite number of seconds.

        .. versionadded:: 0.1.0
        """
        self._core.latency.set(seconds, method)

    @property
    def latency(self) -> dict[str, Any]:
        """The simulated round trips: ``{"seconds": s, "per_method": {"getupdates": s}}``."""
        return self._core.latency.to_dict()

    def set_webhook(self, url: str, *, token: str | None = None) -> None:
        """Set a webhook from the test side (no URL checks); a waiting poll gets 409."""
        _polling.install_webhook(self._state(token), url)

    def set_webhook_error(self, message: str, *, token: str | None = None) -> None:
        """Make getWebhookInfo report ``last_error_message`` (and ``last_error_date`` now)."""
        _polling.set_webhook_error(self._state(token), message)

    # ---- reading -------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None, *, token: str | None = None) -> list[Sent]:
        """What the bot did in chats, in order: sends, edits, deletes, actions, answers.

        Args:
            chat_id (:obj:`int`, optional): Only this chat (answers count for the user's chat).
            token (:obj:`str`, optional): Only this bot; all bots by default.
        """
        return [
            s
            for s in self._core.sent
            if (chat_id is None or s.chat_id == chat_id) and (token is None or s.token == token)
        ]

    @property
    def sent_count(self) -> int:
        """Number of sent records so far; pass as ``after=`` to wait only for newer ones."""
        return len(self._core.sent)

    def mark(self) -> int:
        """A cheap bookmark of "what was sent so far" (the same number as :attr:`sent_count`).

        Example:
            .. code-block:: python

                mark = api.mark()
                api.inject_message(42, "/start")
                reply = await api.wait_for_text(42, "Welcome", after=mark)
                assert api.sent_since(mark, chat_id=42) == [reply]
        """
        return len(self._core.sent)

    def sent_since(
        self, mark: int, *, chat_id: int | None = None, method: str | None = None
    ) -> list[Sent]:
        """Sent records from ``mark`` on, optionally of one chat and/or one method; only the
        records after ``mark`` are looked at, not the whole history."""
        wanted = method.lower() if method else None
        return [
            s
            for s in self._core.sent[mark:]
            if (chat_id is None or s.chat_id == chat_id)
            and (wanted is None or s.method.lower() == wanted)
        ]

    @property
    def calls(self) -> list[Call]:
        """Every bot-facing request in arrival order (status 0 while still running)."""
        return list(self._core.calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls of one method (case-insensitive)."""
        return [c for c in self._core.calls if c.method.lower() == method.lower()]

    def answers(self, method: str) -> list[Sent]:
        """Recorded answers: ``"answerCallbackQuery"``, ``"answerPreCheckoutQuery"``, ...."""
        return [s for s in self._core.sent if s.method.lower() == method.lower()]

    def pending_updates(self, *, token: str | None = None) -> list[dict[str, Any]]:
        """Unconfirmed updates of a bot."""
        return list(self._state(token).updates)

    def file_bytes(self, file_id: str, *, token: str | None = None) -> bytes:
        """The bytes behind a file_id (injected or uploaded by the bot).

        Raises:
            KeyError: Unknown file_id.
        """
        return self._state(token).files[file_id].data

    async def wait_for(
        self,
        what: str | SentPredicate,
        *,
        chat_id: int | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Sent:
        """Wait until the bot did something: a method name or a predicate on :class:`Sent`.

        Records from index ``after`` on are considered, including ones already there.

        Raises:
            TimeoutError: Nothing matched within ``timeout`` seconds (the message lists the
                last records).
        """
        found = await self._core.wait_sent(sent_matcher(what, chat_id), after, timeout)
        if found is None:
            raise TimeoutError(
                f"no matching sent record within {timeout}s; last ones:\n"
                + describe_sent(self._core.sent[after:])
            )
        return found

    async def wait_for_text(
        self, chat_id: int, substring: str, *, timeout: float = 5.0, after: int = 0
    ) -> Sent:
        """Wait until the bot sent or edited a message in ``chat_id`` containing ``substring``."""
        return await self.wait_for(
            lambda s: s.message is not None and substring in (s.text or ""),
            chat_id=chat_id,
            timeout=timeout,
            after=after,
        )

    # ---- counters ------------------------------------------------------------------------

    @property
    def stats(self) -> FakeStats:
        """A snapshot of the counters (getUpdates calls, concurrency peaks, 409s, ...)."""
        return self._core.stats()

    def reset_stats(self) -> None:
        """Zero the counters; updates, messages and records stay."""
        self._core.reset_stats()

    def reset(self) -> None:
        """Forget everything: updates, webhooks, messages, files, records, planned errors."""
        for state in self._core.states.values():
            state.wake(None)
        self._core.states.clear()
        self._core.calls.clear()
        self._core.sent.clear()
        self._core.planned_errors.clear()
        self._core.reset_stats()
