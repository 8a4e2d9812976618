"""DatabasePersistence: two applications (two workers) sharing one database, real PTB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from safe_polling import DatabasePersistence
from safe_polling._persistence import reload_conversations
from safe_polling.db import BalanceStore, open_balance_store
from safe_polling.testing import FakeBotAPI

CHAT = 4242
ASK_NAME, ASK_AGE = range(2)
AnyApp = Application  # type: ignore[type-arg]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[BalanceStore]:
    async with open_balance_store(database_url) as opened:
        yield opened


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    context.user_data["starts"] = context.user_data.get("starts", 0) + 1
    return ASK_NAME


async def name(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    assert context.user_data is not None
    context.user_data["name"] = update.message.text
    return ASK_AGE


async def age(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    assert context.user_data is not None
    context.user_data["age"] = update.message.text
    return ConversationHandler.END


async def outside(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.chat_data is not None
    context.chat_data.setdefault("outside", []).append(update.message.text)  # type: ignore[union-attr]


def worker_app(api: FakeBotAPI, store: BalanceStore) -> AnyApp:
    app = (
        api.application_builder().persistence(DatabasePersistence(store, bot_id=api.token)).build()
    )
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={
                ASK_NAME: [MessageHandler(filters.TEXT & ~filters.COMMAND, name)],
                ASK_AGE: [MessageHandler(filters.TEXT & ~filters.COMMAND, age)],
            },
            fallbacks=[],
            name="signup",
            persistent=True,
        )
    )
    app.add_handler(MessageHandler(filters.TEXT, outside), group=1)
    return app


_next_id = 0


def update(app: AnyApp, text: str) -> Update:
    global _next_id
    _next_id += 1
    entities: list[dict[str, Any]] = []
    if text.startswith("/"):
        entities = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    data = {
        "update_id": _next_id,
        "message": {
            "message_id": _next_id,
            "date": 0,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "T"},
            "text": text,
            "entities": entities,
        },
    }
    return Update.de_json(data, app.bot)


async def handle(app: AnyApp, text: str) -> None:
    """What the scale-out worker does with one update."""
    await app.process_update(update(app, text))
    await app.update_persistence()


async def test_a_conversation_continues_on_another_worker_after_a_reload(
    store: BalanceStore,
) -> None:
    async with FakeBotAPI() as api:
        one, two = worker_app(api, store), worker_app(api, store)
        async with one, two:  # both initialized: both loaded the (empty) states
            await handle(one, "/start")
            await handle(one, "Ada")  # worker one: name asked and answered
            assert await reload_conversations(two) == 1  # worker two takes the chat over
            await handle(two, "36")  # the age step, on worker two
            assert two.user_data[CHAT] == {"starts": 1, "name": "Ada", "age": "36"}
            await reload_conversations(one)
            await handle(one, "hello")  # conversation over: only the outside handler
        fresh = worker_app(api, store)
        async with fresh:
            assert fresh.user_data[CHAT] == {"starts": 1, "name": "Ada", "age": "36"}
            assert fresh.chat_data[CHAT] == {"outside": ["/start", "Ada", "36", "hello"]}
            assert await fresh.persistence.get_conversations("signup") == {}  # type: ignore[union-attr]


async def test_without_the_reload_the_stale_worker_loses_the_step(store: BalanceStore) -> None:
    # What reload_conversations prevents: worker two still believes no conversation runs.
    async with FakeBotAPI() as api:
        one, two = worker_app(api, store), worker_app(api, store)
        async with one, two:
            await handle(one, "/start")
            await handle(one, "Ada")
            await handle(two, "36")
            assert "age" not in two.user_data[CHAT]


async def test_chat_data_is_refreshed_before_each_update(store: BalanceStore) -> None:
    async with FakeBotAPI() as api:
        one, two = worker_app(api, store), worker_app(api, store)
        async with one, two:
            await handle(two, "a")  # two caches ["a"]
            await handle(one, "b")  # one refreshes to ["a"], appends
            await handle(two, "c")  # two must refresh to ["a", "b"] before appending
            assert two.chat_data[CHAT] == {"outside": ["a", "b", "c"]}


async def counter(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.user_data is not None
    context.user_data["n"] = context.user_data.get("n", 0) + 1
    context.bot_data.setdefault("seen", []).append(context.user_data["n"])


async def test_one_process_keeps_its_changes_between_timer_writes(store: BalanceStore) -> None:
    # No queue, no update_persistence() after each update: PTB writes on its timer (an hour
    # here), and the refresh before each update must not bring back the older row.
    async with FakeBotAPI() as api:
        app = (
            api.application_builder()
            .persistence(DatabasePersistence(store, bot_id=api.token, update_interval=3600))
            .build()
        )
        app.add_handler(MessageHandler(filters.TEXT, counter))
        async with app:
            for text in ("a", "b", "c"):
                await app.process_update(update(app, text))
            assert app.bot_data["seen"] == [1, 2, 3]
        fresh = worker_app(api, store)
        async with fresh:  # written at the latest when the application stopped
            assert fresh.user_data[CHAT] == {"n": 3}
