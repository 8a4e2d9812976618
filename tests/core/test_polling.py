"""safe_start_polling against real PTB talking HTTP to the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, ConversationHandler

from safe_polling import (
    PollingErrorCallback,
    logging_error_handler,
    safe_start_polling,
    safe_stop_polling,
)
from safe_polling.testing import FakeBotAPI

STARTUP_LINES = [
    "🗑️ Deleting webhook and dropping pending updates...",
    "🔧 Initializing application...",
    "📡 Starting polling...",
    "✅ Polling started successfully!",
]


def build_app(api: FakeBotAPI, token: str | None = None) -> Application:  # type: ignore[type-arg]
    return api.application_builder(token=token).build()


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(conflict_delay=0.05) as fake:
        yield fake


def safe_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "safe_polling"]


async def test_start_logs_lines_in_order_and_deletes_webhook_first(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = build_app(api)
    assert await safe_start_polling(app) is True
    try:
        await wait_until(lambda: api.stats.get_updates_calls >= 1)
        assert safe_lines(caplog) == STARTUP_LINES
        methods = [c.method for c in api.calls]
        assert methods.index("deleteWebhook") < methods.index("getUpdates")
        assert api.stats.for_token(api.token).delete_webhook_calls[0] is True
    finally:
        await safe_stop_polling(app)


async def test_keep_pending_updates_when_drop_updates_false(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.inject_message(1001, "sent while the bot was down")
    app = build_app(api)
    received: list[str] = []

    async def remember(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        received.append(update.message.text or "")

    from telegram.ext import MessageHandler, filters

    app.add_handler(MessageHandler(filters.TEXT, remember))
    await safe_start_polling(app, drop_updates=False)
    try:
        await wait_until(lambda: received == ["sent while the bot was down"])
        assert safe_lines(caplog)[0] == "🗑️ Deleting webhook..."
        assert set(api.stats.for_token(api.token).delete_webhook_calls) == {False}
    finally:
        await safe_stop_polling(app)


async def test_two_concurrent_starts_give_one_poller(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first, second = build_app(api), build_app(api)
    results = await asyncio.gather(
        safe_start_polling(first, timeout=1), safe_start_polling(second, timeout=1)
    )
    try:
        assert sorted(results) == [False, True]
        await wait_until(lambda: api.stats.get_updates_calls >= 3)
        assert api.stats.max_concurrent_get_updates == 1
        assert api.stats.conflicts_total == 0
        assert "⚠️ Polling already started; skip second start" in safe_lines(caplog)
    finally:
        await safe_stop_polling(first)
        await safe_stop_polling(second)


async def test_two_sequential_starts_give_one_poller(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = build_app(api)
    assert await safe_start_polling(app, timeout=1) is True
    try:
        assert await safe_start_polling(app) is False
        assert await safe_start_polling(build_app(api)) is False
        await wait_until(lambda: api.stats.get_updates_calls >= 3)
        assert api.stats.max_concurrent_get_updates == 1
        assert api.stats.conflicts_total == 0
        assert safe_lines(caplog).count("⚠️ Polling already started; skip second start") == 2
    finally:
        await safe_stop_polling(app)


async def test_stop_releases_guard_and_polling_can_start_again(api: FakeBotAPI) -> None:
    app = build_app(api)
    await safe_start_polling(app)
    await safe_stop_polling(app)
    assert not app.running
    calls_before = api.stats.get_updates_calls
    # The same application leads again (what a lease step-down/re-lead does).
    assert await safe_start_polling(app) is True
    try:
        await wait_until(lambda: api.stats.get_updates_calls > calls_before)
        api.inject_message(1002, "/ping")
        replies: list[str] = []

        async def ping(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None
            await update.message.reply_text("pong")
            replies.append("pong")

        app.add_handler(CommandHandler("ping", ping))
        await api.wait_for_text(1002, "pong", timeout=5)
    finally:
        await safe_stop_polling(app)
    assert api.stats.max_concurrent_get_updates == 1


async def test_failing_delete_webhook_still_starts_polling(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.fail_next("deleteWebhook", error_code=500, description="Internal Server Error")
    app = build_app(api)
    assert await safe_start_polling(app) is True
    try:
        await wait_until(lambda: api.stats.get_updates_calls >= 1)
        lines = safe_lines(caplog)
        assert any(line.startswith("⚠️ deleteWebhook failed (non-fatal)") for line in lines)
        assert lines[-1] == "✅ Polling started successfully!"
    finally:
        await safe_stop_polling(app)


async def test_invalid_token_releases_guard_and_raises(api: FakeBotAPI) -> None:
    from telegram.error import InvalidToken

    async with FakeBotAPI(token=api.make_token()) as strict:
        app = build_app(strict, token=strict.make_token())  # well-formed but not the one
        with pytest.raises(InvalidToken):
            await safe_start_polling(app)
    good = build_app(api)
    assert await safe_start_polling(good) is True  # the guard was released
    await safe_stop_polling(good)


async def test_rival_poller_gives_one_clear_warning_not_a_traceback_storm(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = build_app(api)
    callback = PollingErrorCallback(repeat_every=60)
    await safe_start_polling(app, timeout=1, error_callback=callback)
    rival_url = f"{api.base_url}{api.token}/getUpdates"
    try:
        # A second copy of the bot, polling the same token in a loop.
        async with httpx.AsyncClient() as rival:
            for _ in range(6):
                await rival.post(rival_url, json={"timeout": 1})
        await wait_until(lambda: callback.conflicts >= 2)
    finally:
        await safe_stop_polling(app)
    warnings = [r for r in caplog.records if r.name == "safe_polling" and "409" in r.getMessage()]
    assert len(warnings) == 1
    assert "another instance is polling this token" in warnings[0].getMessage()
    tracebacks = [r for r in caplog.records if r.exc_info and "Conflict" in repr(r.exc_info[1])]
    assert tracebacks == []


async def test_webhook_set_elsewhere_is_deleted_before_polling(api: FakeBotAPI) -> None:
    api.set_webhook("https://elsewhere.example/hook")
    app = build_app(api)
    await safe_start_polling(app, timeout=1)
    try:
        await wait_until(lambda: api.stats.get_updates_calls >= 2)
        assert api.stats.conflicts_total == 0
    finally:
        await safe_stop_polling(app)


async def test_conflict_callback_names_a_webhook_as_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from telegram.error import Conflict

    now = [0.0]
    callback = PollingErrorCallback(repeat_every=10, clock=lambda: now[0])
    caplog.set_level(logging.WARNING)
    webhook = Conflict(
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    for _ in range(5):
        callback(webhook)
    now[0] = 11.0
    callback(webhook)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "a webhook is set for this token" in lines[0]
    assert "repeated 4 more time(s)" in lines[1]


async def test_logging_error_handler_logs_context_and_handler(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = build_app(api)

    async def broken_balance(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        raise RuntimeError("database is down")

    # Inside a ConversationHandler, which has no callback of its own: its state's is named.
    balance = CommandHandler("balance", broken_balance)
    app.add_handler(ConversationHandler(entry_points=[balance], states={}, fallbacks=[]))
    app.add_error_handler(logging_error_handler)
    await safe_start_polling(app)
    try:
        update = api.inject_message(4242, "/balance")
        await wait_until(lambda: any("Unhandled error" in r.getMessage() for r in caplog.records))
    finally:
        await safe_stop_polling(app)
    record = next(r for r in caplog.records if "Unhandled error" in r.getMessage())
    message = record.getMessage()
    assert f"update_id={update['update_id']}" in message
    assert "chat_id=4242" in message
    assert "user_id=4242" in message
    where = f"{__name__}.test_logging_error_handler_logs_context_and_handler"
    assert f"handler={where}.<locals>.broken_balance" in message
    assert "RuntimeError: database is down" in message
    assert record.exc_info is not None
    # Logging only: polling went on, nothing was restarted.
    assert api.stats.max_concurrent_get_updates == 1
    assert [c.method for c in api.calls].count("getMe") == 1
