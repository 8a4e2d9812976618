"""Chats and users that exist, stored messages, buttons, queries, limits: through PTB's Bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LabeledPrice,
    ReactionTypeEmoji,
    ReplyParameters,
    ShippingOption,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter

from safe_polling.testing import FakeBotAPI, FloodLimits

USER = 42
GROUP = -100555
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data="buy")]])


@pytest_asyncio.fixture
async def bot(fake_bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with fake_bot_api.bot() as ptb_bot:
        yield ptb_bot


async def test_a_chat_that_never_wrote_is_not_found(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(USER, "your report")
    (call,) = fake_bot_api.calls_to("sendMessage")
    assert (call.status, call.description) == (400, "Bad Request: chat not found")
    fake_bot_api.inject_message(USER, "/start")
    assert (await bot.send_message(USER, "hello")).chat.id == USER


async def test_open_chats_accept_any_id() -> None:
    async with FakeBotAPI(strict_chats=False) as api, api.bot() as bot:
        assert (await bot.send_message(999, "x")).chat.id == 999


async def test_blocked_user_and_bots_are_forbidden(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_user(USER)
    blocked = fake_bot_api.block_bot(USER)
    update = Update.de_json(blocked, bot)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    assert update.my_chat_member.old_chat_member.status == "member"
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "are you there?")
    fake_bot_api.unblock_bot(USER)
    await bot.send_message(USER, "welcome back")
    fake_bot_api.add_user(7, "Other", is_bot=True)
    with pytest.raises(Forbidden, match="bot can't send messages to bots"):
        await bot.send_message(7, "hi bot")


async def test_groups_have_members_and_member_updates(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_group(GROUP, "Club", members={USER: "creator", 5: "member"})
    assert await bot.get_chat_member_count(GROUP) == 3  # creator, member and the bot
    admins = await bot.get_chat_administrators(GROUP)
    assert {a.user.id for a in admins} == {USER, bot.id}
    assert isinstance(await bot.get_chat_member(GROUP, 5), ChatMemberMember)
    assert (await bot.get_chat_member(GROUP, 6)).status == "left"
    joined = fake_bot_api.set_member_status(GROUP, 6, "member")
    assert "update_id" not in joined  # chat_member only when asked for in allowed_updates
    assert (await bot.get_chat_member(GROUP, 6)).status == "member"
    assert await bot.ban_chat_member(GROUP, 6)
    assert (await bot.get_chat_member(GROUP, 6)).status == "kicked"
    removed = fake_bot_api.set_member_status(GROUP, bot.id, "kicked", by=USER)
    assert Update.de_json(removed, bot).my_chat_member is not None
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "still here?")


async def test_stored_messages_follow_telegrams_rules(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.inject_message(USER, "first")  # message 1, from the user
    sent = await bot.send_message(USER, "reply", reply_to_message_id=1)
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.text == "first"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(USER, "x", reply_to_message_id=99)
    quoting = await bot.send_message(
        USER, "quoting", reply_parameters=ReplyParameters(1, quote="irs")
    )
    assert quoting.quote is not None
    assert (quoting.quote.text, quoting.quote.position) == ("irs", 1)
    with pytest.raises(BadRequest, match="Quote_text_invalid"):
        await bot.send_message(USER, "x", reply_parameters=ReplyParameters(1, quote="nope"))
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("changed", chat_id=USER, message_id=1)
    fake_bot_api.add_group(GROUP)
    forwarded = await bot.forward_message(GROUP, USER, sent.message_id)
    assert forwarded.forward_origin is not None
    assert forwarded.text == "reply"
    copy = await bot.copy_message(GROUP, USER, sent.message_id)
    assert copy.message_id == forwarded.message_id + 1
    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match="Message to forward not found"):
        await bot.forward_message(GROUP, USER, sent.message_id)
    assert await bot.set_message_reaction(USER, 1, [ReactionTypeEmoji("👍")])
    assert await bot.pin_chat_message(USER, 1)
    assert await bot.unpin_chat_message(USER)
    with pytest.raises(BadRequest, match="Message to unpin not found"):
        await bot.unpin_chat_message(USER)


async def test_a_press_needs_a_button_the_message_has_now(
    bot: Bot, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.add_user(USER)
    menu = await bot.send_message(USER, "menu", reply_markup=KEYBOARD)
    press = fake_bot_api.inject_callback_query(USER, "buy", message_id=menu.message_id)
    with pytest.raises(LookupError, match="no button with callback_data 'sell'"):
        fake_bot_api.inject_callback_query(USER, "sell", message_id=menu.message_id)
    await bot.edit_message_text("done", chat_id=USER, message_id=menu.message_id)
    with pytest.raises(LookupError, match="no button with callback_data 'buy'"):
        fake_bot_api.inject_callback_query(USER, "buy", message_id=menu.message_id)
    assert await bot.answer_callback_query(press["callback_query"]["id"], "ok")


async def test_queries_expire_on_the_fake_clock(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_user(USER)
    menu = await bot.send_message(USER, "menu", reply_markup=KEYBOARD)
    late = fake_bot_api.inject_callback_query(USER, "buy", message_id=menu.message_id)
    checkout = fake_bot_api.inject_pre_checkout_query(USER, "p", 10)
    fake_bot_api.advance_time(16)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(late["callback_query"]["id"])
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_pre_checkout_query(checkout["pre_checkout_query"]["id"], ok=True)
    fresh = fake_bot_api.inject_pre_checkout_query(USER, "p", 10)
    fake_bot_api.advance_time(9)
    assert await bot.answer_pre_checkout_query(fresh["pre_checkout_query"]["id"], ok=True)
    with pytest.raises(ValueError, match="forward"):
        fake_bot_api.advance_time(-1)


async def test_invoice_currency_and_provider_rules(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_user(USER)
    price = [LabeledPrice("Item", 500)]
    stars = await bot.send_invoice(USER, "Stars", "d", "p", "XTR", price)
    assert stars.invoice is not None
    with pytest.raises(BadRequest, match="Payment_provider_invalid"):
        await bot.send_invoice(USER, "Card", "d", "p", "EUR", price)
    with pytest.raises(BadRequest, match="Currency_invalid"):
        await bot.send_invoice(USER, "Card", "d", "p", "ABC", price, provider_token="1:TEST:x")
    card = await bot.send_invoice(
        USER, "Card", "d", "p", "EUR", price, provider_token="284685063:TEST:abc", is_flexible=True
    )
    assert card.invoice is not None
    assert card.invoice.total_amount == 500
    query = fake_bot_api.inject_shipping_query(USER, "p")
    query_id = query["shipping_query"]["id"]
    with pytest.raises(BadRequest, match="at least one shipping option"):
        await bot.answer_shipping_query(query_id, ok=True, shipping_options=[])
    option = ShippingOption("post", "Post", [LabeledPrice("Post", 100)])
    assert await bot.answer_shipping_query(query_id, ok=True, shipping_options=[option])
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_shipping_query(query_id, ok=True, shipping_options=[option])
    link = await bot.create_invoice_link("Stars", "d", "p", "XTR", price)
    assert link.startswith("https://t.me/$")


async def test_polls_count_votes_and_stop(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_user(USER)
    message = await bot.send_poll(USER, "Lunch?", ["Pizza", "Soup"], is_anonymous=False)
    assert message.poll is not None
    vote = fake_bot_api.inject_poll_answer(5, message.poll.id, [1])
    assert Update.de_json(vote, bot).poll_answer is not None
    with pytest.raises(LookupError, match="no such choice"):
        fake_bot_api.inject_poll_answer(6, message.poll.id, [2])
    stopped = await bot.stop_poll(USER, message.message_id)
    assert stopped.is_closed
    assert [o.voter_count for o in stopped.options] == [0, 1]
    with pytest.raises(BadRequest, match="Poll_already_closed"):
        await bot.stop_poll(USER, message.message_id)
    with pytest.raises(BadRequest, match="Poll_answers_invalid"):
        await bot.send_poll(USER, "One?", ["only"])


async def test_inline_queries_are_answered_once(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    query = fake_bot_api.inject_inline_query(USER, "cats")
    article = InlineQueryResultArticle("1", "Cat", InputTextMessageContent("🐈"))
    assert await bot.answer_inline_query(query["inline_query"]["id"], [article])
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_inline_query(query["inline_query"]["id"], [article])
    again = fake_bot_api.inject_inline_query(USER, "dogs")
    with pytest.raises(BadRequest, match="Result_id_duplicate"):
        await bot.answer_inline_query(again["inline_query"]["id"], [article, article])
    chosen = fake_bot_api.inject_chosen_inline_result(USER, "1", "cats")
    assert Update.de_json(chosen, bot).chosen_inline_result is not None


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_answers_429_until_time_passes(
    bot: Bot, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.add_user(USER)
    fake_bot_api.set_flood_control(FloodLimits(per_chat=(2, 2.0)))
    await bot.send_message(USER, "1")
    await bot.send_message(USER, "2")
    with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
        await bot.send_message(USER, "3")
    (failed,) = [c for c in fake_bot_api.calls_to("sendMessage") if c.status == 429]
    assert failed.description == "Too Many Requests: retry after 1"
    fake_bot_api.advance_time(1)
    await bot.send_message(USER, "3")
    fake_bot_api.set_flood_control(None)
    for n in range(5):
        await bot.send_message(USER, str(n))


async def test_get_updates_can_answer_429(
    fake_bot_api: FakeBotAPI, http: httpx.AsyncClient
) -> None:
    fake_bot_api.fail_next("getUpdates", 429, retry_after=30)
    response = await http.post(f"/bot{fake_bot_api.token}/getUpdates")
    assert response.status_code == 429
    assert response.json()["parameters"] == {"retry_after": 30}


async def test_missing_parameters_use_telegrams_words(
    fake_bot_api: FakeBotAPI, http: httpx.AsyncClient
) -> None:
    async def description(method: str, **params: object) -> str:
        response = await http.post(f"/bot{fake_bot_api.token}/{method}", json=params)
        assert response.status_code == 400
        text: str = response.json()["description"]
        return text

    assert await description("setChatTitle", chat_id=USER) == (
        'Bad Request: parameter "title" is required'
    )
    assert await description("banChatMember", chat_id=GROUP) == (
        "Bad Request: invalid user_id specified"
    )
    assert await description("sendLocation", chat_id=USER) == "Bad Request: latitude is empty"
    assert await description("getChatMember") == "Bad Request: chat_id is empty"


async def test_inject_raw_is_checked_by_ptb(fake_bot_api: FakeBotAPI) -> None:
    with pytest.raises(ValueError, match="cannot parse this message update"):
        fake_bot_api.inject_raw({"message": {"text": "no chat, no date"}})
    with pytest.raises(ValueError, match="exactly one of"):
        fake_bot_api.inject_raw({"nonsense": {}})
    assert fake_bot_api.pending_updates() == []


async def test_mark_and_sent_since_filter_without_copying_history(
    bot: Bot, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.add_user(USER)
    fake_bot_api.add_user(5)
    await bot.send_message(USER, "old")
    mark = fake_bot_api.mark()
    await bot.send_message(5, "other chat")
    await bot.send_chat_action(USER, "typing")
    await bot.send_message(USER, "new")
    assert [s.text for s in fake_bot_api.sent_since(mark, chat_id=USER)] == [None, "new"]
    assert [s.text for s in fake_bot_api.sent_since(mark, method="sendmessage")] == [
        "other chat",
        "new",
    ]
    assert fake_bot_api.mark() == mark + 3 == fake_bot_api.sent_count


async def test_stars_payments_show_in_balance_and_transactions(
    bot: Bot, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.inject_successful_payment(USER, "pack", 50, "charge-a")
    fake_bot_api.inject_successful_payment(USER, "pack", 20, "charge-b")
    assert (await bot.get_my_star_balance()).amount == 70
    assert await bot.refund_star_payment(USER, "charge-a")
    assert (await bot.get_my_star_balance()).amount == 20
    history = (await bot.get_star_transactions()).transactions
    assert [(t.id, t.amount, t.source is None) for t in history] == [
        ("charge-a", 50, False),
        ("charge-b", 20, False),
        ("charge-a", 50, True),  # the refund goes to the user
    ]
