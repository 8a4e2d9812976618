"""PerChatUpdateProcessor: real PTB polling the fake Bot API with concurrent_updates(...)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable

import pytest
from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor, ContextTypes, MessageHandler, filters

from safe_polling import PerChatUpdateProcessor, chat_key, safe_start_polling, safe_stop_polling
from safe_polling.testing import FakeBotAPI

WAIT = 15.0  # bound on functional waits, never a speed claim
AnyApp = Application  # type: ignore[type-arg]


async def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(conflict_delay=0.05) as fake:
        yield fake


async def run_bot(
    api: FakeBotAPI,
    processor: BaseUpdateProcessor | int,
    handler: Callable[[Update, ContextTypes.DEFAULT_TYPE], object],
) -> AnyApp:
    app = api.application_builder().concurrent_updates(processor).build()
    app.add_handler(MessageHandler(filters.TEXT, handler))  # type: ignore[arg-type]
    assert await safe_start_polling(app, drop_updates=False)
    return app


def quick_messages_slow_first() -> tuple[list[tuple[int, str]], object]:
    """A handler that takes longer on each chat's first message, and what it saw."""
    seen: list[tuple[int, str]] = []

    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        assert update.effective_chat is not None
        text = update.message.text or ""
        if text.endswith("#0"):
            await asyncio.sleep(0.2)  # a slow step: the next quick message arrives meanwhile
        seen.append((update.effective_chat.id, text))

    return seen, handle


async def test_quick_messages_of_one_chat_are_handled_in_order(api: FakeBotAPI) -> None:
    seen, handle = quick_messages_slow_first()
    for chat in (101, 102, 103):
        for n in range(5):
            api.inject_message(chat, f"{chat}#{n}")
    app = await run_bot(api, PerChatUpdateProcessor(8), handle)  # type: ignore[arg-type]
    try:
        await wait_until(lambda: len(seen) == 15)
    finally:
        await safe_stop_polling(app)
    for chat in (101, 102, 103):
        assert [text for c, text in seen if c == chat] == [f"{chat}#{n}" for n in range(5)]


async def test_plain_concurrent_updates_reorder_a_chats_messages(api: FakeBotAPI) -> None:
    # The failure the processor exists for: PTB's default processor lets #1 overtake #0.
    seen, handle = quick_messages_slow_first()
    for n in range(3):
        api.inject_message(101, f"101#{n}")
    app = await run_bot(api, 8, handle)  # type: ignore[arg-type]
    try:
        await wait_until(lambda: len(seen) == 3)
    finally:
        await safe_stop_polling(app)
    assert [text for _, text in seen] != ["101#0", "101#1", "101#2"]


async def test_different_chats_run_concurrently(api: FakeBotAPI) -> None:
    # Chat 201's handler can only finish once chat 202's handler has started:
    # with chats serialised this would wait forever (bounded by WAIT).
    other_started = asyncio.Event()
    done: list[int] = []

    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        chat = update.effective_chat.id
        if chat == 202:
            other_started.set()
        else:
            await asyncio.wait_for(other_started.wait(), WAIT)
        done.append(chat)

    api.inject_message(201, "first")
    api.inject_message(202, "second")
    app = await run_bot(api, PerChatUpdateProcessor(4), handle)  # type: ignore[arg-type]
    try:
        await wait_until(lambda: len(done) == 2)
    finally:
        await safe_stop_polling(app)
    assert done == [202, 201]


async def test_a_failing_update_does_not_block_the_next_one_of_its_chat(api: FakeBotAPI) -> None:
    seen: list[str] = []

    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        seen.append(update.message.text or "")
        if update.message.text == "boom":
            raise RuntimeError("handler failed")

    errors: list[object] = []

    async def on_error(_: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    api.inject_message(301, "boom")
    api.inject_message(301, "after")
    app = api.application_builder().concurrent_updates(PerChatUpdateProcessor(4)).build()
    app.add_handler(MessageHandler(filters.TEXT, handle))
    app.add_error_handler(on_error)
    assert await safe_start_polling(app, drop_updates=False)
    try:
        await wait_until(lambda: len(seen) == 2)
    finally:
        await safe_stop_polling(app)
    assert seen == ["boom", "after"]
    assert len(errors) == 1
    assert processor_is_idle(app)


def processor_is_idle(app: AnyApp) -> bool:
    processor = app.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    return processor.ordered_keys == 0


class _Steps:
    """Coroutines that note their names in the order they ran; those told to wait, at the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.order: list[str] = []

    async def step(self, name: str, wait: bool = False) -> None:
        if wait:
            await self.gate.wait()
        self.order.append(name)


async def test_cancelled_waiter_leaves_the_chain_usable() -> None:
    processor = PerChatUpdateProcessor(4)
    steps = _Steps()
    update = _update(message={"message_id": 1, "date": 0, "chat": CHAT, "text": "x"})
    first = asyncio.create_task(processor.process_update(update, steps.step("first", wait=True)))
    second_step = steps.step("second")
    second = asyncio.create_task(processor.process_update(update, second_step))
    third = asyncio.create_task(processor.process_update(update, steps.step("third")))
    await wait_until(lambda: processor.current_concurrent_updates == 3)
    second.cancel()
    steps.gate.set()
    await asyncio.gather(first, third)
    assert steps.order == ["first", "third"]
    assert second.cancelled()
    # Closed unstarted: no "coroutine was never awaited" warning when it is collected.
    assert inspect.getcoroutinestate(second_step) == "CORO_CLOSED"
    assert processor.ordered_keys == 0


async def test_an_update_without_a_key_runs_at_once_beside_a_waiting_chat() -> None:
    processor = PerChatUpdateProcessor(4)
    steps = _Steps()
    chat_update = _update(message={"message_id": 1, "date": 0, "chat": CHAT})
    held = asyncio.create_task(processor.process_update(chat_update, steps.step("chat", True)))
    await wait_until(lambda: processor.ordered_keys == 1)
    await asyncio.wait_for(processor.process_update(_update(), steps.step("no key")), WAIT)
    assert steps.order == ["no key"]
    assert processor.ordered_keys == 1  # the keyless update took no place in the chains
    steps.gate.set()
    await held
    assert steps.order == ["no key", "chat"]


def _update(**payload: object) -> Update:
    update = Update.de_json({"update_id": 1, **payload}, None)
    assert update is not None
    return update


CHAT = {"id": 42, "type": "private"}
USER = {"id": 7, "is_bot": False, "first_name": "T"}


@pytest.mark.parametrize(
    ("update", "key"),
    [
        pytest.param(
            _update(message={"message_id": 1, "date": 0, "chat": CHAT, "from": USER}),
            ("chat", 42),
            id="message-by-its-chat",
        ),
        pytest.param(
            _update(inline_query={"id": "q", "from": USER, "query": "", "offset": ""}),
            ("user", 7),
            id="inline-query-by-its-user",
        ),
        pytest.param(_update(), None, id="neither-chat-nor-user-not-ordered"),
        pytest.param({"update_id": 1}, None, id="not-an-update-object"),
        pytest.param(object(), None, id="anything-else"),
    ],
)
def test_updates_are_ordered_by_chat_else_user_else_not_at_all(
    update: object, key: object
) -> None:
    assert chat_key(update) == key
    assert PerChatUpdateProcessor(1).do_order_key(update) == key


async def test_an_awaitable_that_is_not_a_coroutine_is_awaited_and_left_alone() -> None:
    processor = PerChatUpdateProcessor(4)
    handled = asyncio.get_running_loop().create_future()
    handled.set_result(None)
    message = {"message_id": 1, "date": 0, "chat": CHAT}
    await asyncio.wait_for(processor.process_update(_update(message=message), handled), WAIT)
    assert processor.ordered_keys == 0
