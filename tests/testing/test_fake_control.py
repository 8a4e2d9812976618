"""The JSON control API, FakeBotAPIClient and the separate-process mode."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fake_helpers import api_call, wait_until
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, InvalidToken, NetworkError

from safe_polling.testing import FakeBotAPI, FakeBotAPIClient, make_token, spawn_fake_bot_api

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="data")]])


@pytest_asyncio.fixture
async def client(fake_bot_api: FakeBotAPI) -> AsyncIterator[FakeBotAPIClient]:
    async with FakeBotAPIClient(fake_bot_api.control_url) as control:
        yield control


async def test_client_mirrors_the_in_process_api(
    client: FakeBotAPIClient, fake_bot_api: FakeBotAPI
) -> None:
    assert client.token == fake_bot_api.token
    assert client.base_url == fake_bot_api.base_url
    assert client.base_file_url == fake_bot_api.base_file_url
    update = await client.inject_message(42, "/start", first_name="Ann")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert fake_bot_api.pending_updates() == [update]
    assert await client.pending_updates() == [update]
    async with fake_bot_api.bot() as bot:
        sent = await bot.send_message(42, "Welcome", reply_markup=KEYBOARD)
        photo_update = await client.inject_photo(42, PNG, "cap")
        file_id = photo_update["message"]["photo"][-1]["file_id"]
        assert await client.file_bytes(file_id) == PNG
        await client.inject_callback_query(42, "data", message_id=sent.message_id)
        await client.inject_pre_checkout_query(42, "p", 5)
        await client.inject_successful_payment(42, "p", 5, "c1")
        await client.inject_raw({"edited_message": sent.to_dict()})
        with pytest.raises(RuntimeError, match="cannot parse this edited_message"):
            await client.inject_raw({"edited_message": {"junk": True}})
        assert len(await client.pending_updates()) == 6
        assert await bot.refund_star_payment(42, "c1") is True
    reply = await client.wait_for_text(42, "Welcome")
    assert reply.method == "sendMessage"
    assert reply == fake_bot_api.sent(42)[0]
    assert [s.method for s in await client.sent(42)] == ["sendMessage", "refundStarPayment"]
    assert [c.method for c in await client.calls()] == [c.method for c in fake_bot_api.calls]
    stats = await client.stats()
    assert stats == fake_bot_api.stats
    assert stats.for_token(client.token).pending_count == 6


async def test_client_wait_for_sees_later_records(
    client: FakeBotAPIClient, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.add_user(9)
    async with fake_bot_api.bot() as bot:
        waiting = asyncio.create_task(client.wait_for("sendChatAction", chat_id=9, timeout=10))
        await bot.send_message(9, "first")
        await bot.send_chat_action(9, "typing")
        found = await asyncio.wait_for(waiting, 15)
    assert (found.method, found.chat_id, found.seq) == ("sendChatAction", 9, 1)
    with pytest.raises(TimeoutError, match="sendChatAction"):
        await client.wait_for("sendVideo", timeout=0.3)


async def test_client_webhook_stats_and_resets(
    client: FakeBotAPIClient, fake_bot_api: FakeBotAPI
) -> None:
    async with httpx.AsyncClient(base_url=fake_bot_api.url, timeout=30) as http:
        poll = api_call(http, fake_bot_api.token, "getUpdates", timeout=30)
        await wait_until(lambda: fake_bot_api.stats.current_get_updates == 1)
        await client.set_webhook("https://example.invalid/hook")
        assert (await asyncio.wait_for(poll, 10)).status_code == 409
    await client.set_webhook_error("boom")
    await client.fail_next("getWebhookInfo", 500, times=1)
    async with fake_bot_api.bot() as bot:
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.get_webhook_info()
    async with fake_bot_api.bot() as bot:
        info = await bot.get_webhook_info()
    assert (info.url, info.last_error_message) == ("https://example.invalid/hook", "boom")
    assert (await client.stats()).conflicts == {"set_webhook": 1}
    await client.reset_stats()
    assert (await client.stats()).conflicts_total == 0
    await client.inject_message(1, "x")
    await client.reset()
    assert await client.pending_updates() == []
    assert fake_bot_api.calls == []


async def test_control_errors_are_reported(
    client: FakeBotAPIClient, fake_bot_api: FakeBotAPI
) -> None:
    with pytest.raises(RuntimeError, match="404"):
        await client.inject_callback_query(42, "no message sent yet")
    with pytest.raises(RuntimeError, match="400"):
        await client._call("inject/message", text="no user")
    with pytest.raises(RuntimeError, match="404"):
        await client._call("nonsense")
    unconnected = FakeBotAPIClient(fake_bot_api.control_url)
    with pytest.raises(RuntimeError, match="not connected"):
        _ = unconnected.token
    await unconnected.aclose()


async def test_separate_process_serves_ptb(fake_bot_api_process: FakeBotAPIClient) -> None:
    fake = fake_bot_api_process
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        assert bot.username == "fake_test_bot"
        await fake.inject_message(5, "hello")
        (update,) = await bot.get_updates(timeout=5)
        assert update.message is not None
        assert update.message.text == "hello"
        await update.message.reply_text("hi back", do_quote=True)
    reply = await fake.wait_for_text(5, "hi back")
    assert reply.message is not None
    assert reply.message["reply_to_message"]["text"] == "hello"
    assert (await fake.stats()).get_updates_calls == 1


async def test_two_pollers_in_a_process_fake_conflict(
    fake_bot_api_process: FakeBotAPIClient,
) -> None:
    fake = fake_bot_api_process
    async with httpx.AsyncClient(timeout=30) as http:
        url = f"{fake.base_url}{fake.token}/getUpdates"
        older = asyncio.create_task(http.post(url, json={"timeout": 20}))
        async with asyncio.timeout(10):
            while (await fake.stats()).current_get_updates != 1:
                await asyncio.sleep(0.02)
        newer = asyncio.create_task(http.post(url, json={"timeout": 20}))
        response = await asyncio.wait_for(older, 10)
        assert response.status_code == 409
        await fake.inject_message(1, "x")
        assert (await asyncio.wait_for(newer, 10)).json()["result"][0]["message"]["text"] == "x"
    stats = await fake.stats()
    assert stats.max_concurrent_get_updates == 2
    assert stats.conflicts == {"other_get_updates": 1}


async def test_spawn_with_a_configured_token() -> None:
    token = make_token()
    async with spawn_fake_bot_api(token=token, username="custom_bot") as fake:
        assert fake.token == token
        assert fake.username == "custom_bot"
        async with Bot(token, base_url=fake.base_url) as bot:
            assert bot.username == "custom_bot"
        with pytest.raises(InvalidToken):
            await Bot(make_token(), base_url=fake.base_url).initialize()


async def test_process_prints_one_ready_line_and_exits_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "safe_polling.testing",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("FakeBotAPI listening on http://127.0.0.1:")
        assert line.rstrip().endswith("/bot")
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_client_drives_the_world_and_any_injection(
    client: FakeBotAPIClient, fake_bot_api: FakeBotAPI
) -> None:
    user = await client.add_user(42, "Ann")
    assert user["first_name"] == "Ann"
    chat = await client.add_group(-100321, "Club", members={"42": "creator"})
    assert chat["type"] == "supergroup"
    blocked = await client.block_bot(42)
    assert blocked["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    await client.unblock_bot(42)
    joined = await client.set_member_status(-100321, 5, "member")
    assert joined["chat_member"]["new_chat_member"]["user"]["id"] == 5
    async with fake_bot_api.bot() as bot:
        sent = await bot.send_message(42, "menu", reply_markup=KEYBOARD)
        press = await client.inject(
            "callback_query", user_id=42, data="data", message_id=sent.message_id
        )
        await client.advance_time(20)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(press["callback_query"]["id"])
    query = await client.inject("inline_query", user_id=42, query="cats")
    assert query["inline_query"]["query"] == "cats"
    with pytest.raises(RuntimeError, match="unknown injection kind"):
        await client.inject("teleport", user_id=42)
