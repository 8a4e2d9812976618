"""The fake seen through real python-telegram-bot 22: every method deserializes and works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LabeledPrice,
    Update,
)
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from safe_polling.testing import FakeBotAPI

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])


@pytest_asyncio.fixture
async def bot(fake_bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    fake_bot_api.add_user(42)  # user 42 wrote to the bot: their chat exists
    async with fake_bot_api.bot() as ptb_bot:
        yield ptb_bot


async def test_get_me_gives_ptb_a_username(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    assert bot.username == "fake_test_bot"
    assert bot.id == int(fake_bot_api.token.split(":")[0])
    assert bot.can_join_groups is True


async def test_send_message_with_markup_and_html(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    message = await bot.send_message(
        42, "<b>Hi</b> <i>there</i>", parse_mode="HTML", reply_markup=KEYBOARD
    )
    assert message.text == "Hi there"
    assert [e.type for e in message.entities] == ["bold", "italic"]
    assert message.reply_markup == KEYBOARD
    assert message.from_user is not None
    assert message.from_user.id == bot.id
    assert message.chat.id == 42
    (sent,) = fake_bot_api.sent(42)
    assert sent.method == "sendMessage"
    assert sent.message is not None
    assert sent.message["message_id"] == message.message_id


async def test_edit_text_markup_and_not_modified(bot: Bot) -> None:
    message = await bot.send_message(42, "one", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("two", 42, message.message_id, reply_markup=KEYBOARD)
    assert isinstance(edited, type(message))
    assert edited.text == "two"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("two", 42, message.message_id, reply_markup=KEYBOARD)
    bare = await bot.edit_message_reply_markup(42, message.message_id)
    assert not isinstance(bare, bool)
    assert bare.reply_markup is None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(42, message.message_id)


async def test_delete_message(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    message = await bot.send_message(42, "bye")
    assert await bot.delete_message(42, message.message_id) is True
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(42, message.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 42, message.message_id)
    assert [s.method for s in fake_bot_api.sent(42)] == ["sendMessage", "deleteMessage"]


async def test_user_messages_cannot_be_edited(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    update = fake_bot_api.inject_message(42, "mine")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", 42, update["message"]["message_id"])


async def test_media_uploads_round_trip(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    photo = await bot.send_photo(42, InputFile(PNG, filename="p.png"), caption="pic")
    assert photo.caption == "pic"
    video = await bot.send_video(42, InputFile(b"video", filename="v.mp4"), duration=3)
    audio = await bot.send_audio(42, InputFile(b"audio", filename="a.mp3"), title="Song")
    document = await bot.send_document(42, InputFile(b"%PDF", filename="d.pdf"))
    assert video.video is not None
    assert video.video.width > 0
    sent_video = fake_bot_api.sent()[1].message
    assert sent_video is not None
    assert sent_video["video"]["duration"] == 3
    assert audio.audio is not None
    assert audio.audio.title == "Song"
    assert document.document is not None
    assert document.document.file_name == "d.pdf"
    # A file the bot uploaded can be re-sent by file_id and downloaded.
    fake_bot_api.add_user(43)
    again = await bot.send_photo(43, photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id
    file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PNG
    assert fake_bot_api.file_bytes(document.document.file_id) == b"%PDF"
    assert [s.method for s in fake_bot_api.sent()] == [
        "sendPhoto",
        "sendVideo",
        "sendAudio",
        "sendDocument",
        "sendPhoto",
    ]


async def test_injected_photo_downloads(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    update = Update.de_json(fake_bot_api.inject_photo(7, PNG, caption="look"), bot)
    assert update.message is not None
    assert update.message.caption == "look"
    file = await update.message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == PNG


async def test_chat_action_commands_and_get_chat(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    assert await bot.send_chat_action(42, "typing") is True
    commands = [BotCommand("start", "Start"), BotCommand("help", "Help")]
    assert await bot.set_my_commands(commands) is True
    assert tuple(await bot.get_my_commands()) == tuple(commands)
    assert await bot.get_my_commands(language_code="ru") == ()
    fake_bot_api.inject_message(42, "hi", first_name="Ann")
    chat = await bot.get_chat(42)
    assert (chat.id, chat.type, chat.first_name) == (42, "private", "Ann")


async def test_invoice_pre_checkout_and_refund(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    invoice = await bot.send_invoice(
        42, "Credits", "100 credits", "topup:100", "XTR", [LabeledPrice("100 credits", 50)]
    )
    assert invoice.invoice is not None
    assert (invoice.invoice.currency, invoice.invoice.total_amount) == ("XTR", 50)
    with pytest.raises(BadRequest, match="exactly one price"):
        await bot.send_invoice(
            42, "T", "D", "p", "XTR", [LabeledPrice("a", 1), LabeledPrice("b", 2)]
        )
    query = fake_bot_api.inject_pre_checkout_query(42, "topup:100", 50)["pre_checkout_query"]
    assert await bot.answer_pre_checkout_query(query["id"], ok=True) is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_pre_checkout_query(query["id"], ok=True)
    fake_bot_api.inject_successful_payment(42, "topup:100", 50, "charge-1")
    with pytest.raises(BadRequest, match="Charge_not_found"):
        await bot.refund_star_payment(42, "charge-unknown")
    assert await bot.refund_star_payment(42, "charge-1") is True
    with pytest.raises(BadRequest, match="Charge_already_refunded"):
        await bot.refund_star_payment(42, "charge-1")
    assert [s.params["ok"] for s in fake_bot_api.answers("answerPreCheckoutQuery")] == [True]
    assert len(fake_bot_api.answers("refundStarPayment")) == 1


async def test_wrong_token_is_invalid_token_for_ptb(fake_bot_api: FakeBotAPI) -> None:
    async with FakeBotAPI(token=fake_bot_api.make_token()) as strict:
        bot = Bot(fake_bot_api.make_token(), base_url=strict.base_url)
        with pytest.raises(InvalidToken):
            await bot.initialize()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_ptb_sees_flood_control(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_user(1)
    fake_bot_api.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3 seconds"):
        await bot.send_message(1, "x")
    assert (await bot.send_message(1, "x")).text == "x"


async def test_ptb_sees_conflict(bot: Bot, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.set_webhook("https://example.invalid/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Welcome!", reply_markup=KEYBOARD)


async def _again(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("ok")
    await query.edit_message_text(f"Pressed {query.data}")


async def _photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    file = await update.message.photo[-1].get_file()
    data = await file.download_as_bytearray()
    await update.message.reply_text(f"got {len(data)} bytes")


async def _pre_checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.pre_checkout_query is not None
    await update.pre_checkout_query.answer(ok=True)


async def _paid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    assert update.message.successful_payment is not None
    payment = update.message.successful_payment
    await update.message.reply_text(f"credited {payment.telegram_payment_charge_id}")


async def test_application_end_to_end(fake_bot_api: FakeBotAPI) -> None:
    app = fake_bot_api.application_builder().build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_again))
    app.add_handler(MessageHandler(filters.PHOTO, _photo))
    app.add_handler(PreCheckoutQueryHandler(_pre_checkout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, _paid))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5, drop_pending_updates=True)
        try:
            fake_bot_api.inject_message(42, "/start@fake_test_bot")
            welcome = await fake_bot_api.wait_for_text(42, "Welcome!")
            fake_bot_api.inject_callback_query(42, "again")
            await fake_bot_api.wait_for_text(42, "Pressed again", after=welcome.seq)
            fake_bot_api.inject_photo(42, PNG)
            await fake_bot_api.wait_for_text(42, f"got {len(PNG)} bytes")
            fake_bot_api.inject_pre_checkout_query(42, "topup", 10)
            await fake_bot_api.wait_for("answerPreCheckoutQuery", chat_id=42)
            fake_bot_api.inject_successful_payment(42, "topup", 10, "ch-9")
            await fake_bot_api.wait_for_text(42, "credited ch-9")
        finally:
            await app.updater.stop()
            await app.stop()
    (answer,) = fake_bot_api.answers("answerCallbackQuery")
    assert answer.params["text"] == "ok"
    edit = next(s for s in fake_bot_api.sent(42) if s.method == "editMessageText")
    assert edit.message is not None
    assert edit.message["message_id"] == welcome.result["message_id"]
    stats = fake_bot_api.stats.for_token(fake_bot_api.token)
    assert stats.delete_webhook_calls == (True,)
    assert stats.max_concurrent_get_updates == 1
    assert stats.conflicts_total == 0
    assert stats.pending_count == 0  # Updater.stop() confirmed everything


async def test_wait_for_times_out_with_a_summary(fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_user(1)
    async with fake_bot_api.bot() as bot:
        await bot.send_message(1, "something else")
    with pytest.raises(TimeoutError, match="something else"):
        await fake_bot_api.wait_for_text(1, "never", timeout=0.2)
    assert (await asyncio.wait_for(fake_bot_api.wait_for("sendMessage"), 5)).chat_id == 1
