"""Whole PTB bots written for these tests, each run end to end against the fake.

Together they use every update type PTB handles and a wide set of methods: payments with
shipping, polls and quizzes, inline mode, a conversation with persistence, chat members and
join requests, media and parse modes, reactions, channel posts, edits, business messages
and the job queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_helpers import wait_until
from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    LabeledPrice,
    ShippingOption,
    Update,
)
from telegram.ext import (
    Application,
    BusinessConnectionHandler,
    BusinessMessagesDeletedHandler,
    CallbackContext,
    ChatBoostHandler,
    ChatJoinRequestHandler,
    ChatMemberHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    InlineQueryHandler,
    MessageHandler,
    MessageReactionHandler,
    PaidMediaPurchasedHandler,
    PicklePersistence,
    PollAnswerHandler,
    PollHandler,
    PreCheckoutQueryHandler,
    ShippingQueryHandler,
    TypeHandler,
    filters,
)

from safe_polling.testing import FakeBotAPI
from safe_polling.testing.pytest_plugin import StartBot

USER = 42
GROUP = -100777
PROVIDER = "284685063:TEST:fake"
Ctx = ContextTypes.DEFAULT_TYPE


async def test_shop_bot_takes_a_card_payment_with_shipping(
    fake_bot_api: FakeBotAPI, start_bot: StartBot
) -> None:
    async def buy(update: Update, context: Ctx) -> None:
        assert update.effective_chat is not None
        await context.bot.send_invoice(
            update.effective_chat.id,
            "Mug",
            "A mug",
            "mug-1",
            "EUR",
            [LabeledPrice("Mug", 1200)],
            provider_token=PROVIDER,
            need_shipping_address=True,
            is_flexible=True,
        )

    async def shipping(update: Update, context: Ctx) -> None:
        query = update.shipping_query
        assert query is not None
        if query.shipping_address.country_code != "GB":
            await query.answer(ok=False, error_message="UK only")
            return
        options = [ShippingOption("post", "Royal Mail", [LabeledPrice("Post", 300)])]
        await query.answer(ok=True, shipping_options=options)

    async def checkout(update: Update, context: Ctx) -> None:
        assert update.pre_checkout_query is not None
        await update.pre_checkout_query.answer(ok=True)

    async def paid(update: Update, context: Ctx) -> None:
        assert update.message is not None
        payment = update.message.successful_payment
        assert payment is not None
        await update.message.reply_html(f"<b>Paid</b> {payment.total_amount / 100:.2f} EUR")

    app = fake_bot_api.application_builder().build()
    app.add_handler(CommandHandler("buy", buy))
    app.add_handler(ShippingQueryHandler(shipping))
    app.add_handler(PreCheckoutQueryHandler(checkout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, paid))
    await start_bot(app)

    fake_bot_api.inject_message(USER, "/buy")
    invoice = await fake_bot_api.wait_for("sendInvoice", chat_id=USER)
    assert invoice.message is not None
    assert invoice.message["invoice"]["total_amount"] == 1200
    mark = fake_bot_api.mark()
    fake_bot_api.inject_shipping_query(USER, "mug-1", address={"country_code": "FR"})
    refused = await fake_bot_api.wait_for("answerShippingQuery", after=mark)
    assert refused.params["error_message"] == "UK only"
    mark = fake_bot_api.mark()
    fake_bot_api.inject_shipping_query(USER, "mug-1")
    answered = await fake_bot_api.wait_for("answerShippingQuery", after=mark)
    assert answered.params["shipping_options"][0]["id"] == "post"
    fake_bot_api.inject_pre_checkout_query(USER, "mug-1", 1500, "EUR")
    await fake_bot_api.wait_for("answerPreCheckoutQuery")
    fake_bot_api.inject_successful_payment(USER, "mug-1", 1500, "charge-9", "EUR")
    receipt = await fake_bot_api.wait_for_text(USER, "Paid 15.00 EUR")
    assert receipt.message is not None
    assert receipt.message["entities"] == [{"type": "bold", "offset": 0, "length": 4}]


async def test_poll_bot_counts_answers_and_closes_the_quiz(
    fake_bot_api: FakeBotAPI, start_bot: StartBot
) -> None:
    answers: list[tuple[int, tuple[int, ...]]] = []

    async def quiz(update: Update, context: Ctx) -> None:
        assert update.effective_chat is not None
        await context.bot.send_poll(
            update.effective_chat.id,
            "2 + 2?",
            ["3", "4", "5"],
            type="quiz",
            correct_option_ids=[1],
            is_anonymous=False,
        )

    async def answer(update: Update, context: Ctx) -> None:
        poll_answer = update.poll_answer
        assert poll_answer is not None
        assert poll_answer.user is not None
        answers.append((poll_answer.user.id, tuple(poll_answer.option_ids)))
        if len(answers) == 2:
            await context.bot.send_message(USER, f"{len(answers)} answers, closing")

    app = fake_bot_api.application_builder().build()
    app.add_handler(CommandHandler("quiz", quiz))
    app.add_handler(PollAnswerHandler(answer))
    await start_bot(app)
    fake_bot_api.inject_message(USER, "/quiz")
    sent = await fake_bot_api.wait_for("sendPoll", chat_id=USER)
    assert sent.message is not None
    poll_id = sent.message["poll"]["id"]
    fake_bot_api.inject_poll_answer(5, poll_id, [1])
    fake_bot_api.inject_poll_answer(6, poll_id, [0])
    await fake_bot_api.wait_for_text(USER, "2 answers, closing")
    assert sorted(answers) == [(5, (1,)), (6, (0,))]


async def test_inline_bot_answers_and_sees_the_choice(
    fake_bot_api: FakeBotAPI, start_bot: StartBot
) -> None:
    chosen: list[str] = []

    async def inline(update: Update, context: Ctx) -> None:
        query = update.inline_query
        assert query is not None
        result = InlineQueryResultArticle(
            "up", query.query.upper(), InputTextMessageContent(query.query.upper())
        )
        await query.answer([result], cache_time=0)

    async def chose(update: Update, context: Ctx) -> None:
        assert update.chosen_inline_result is not None
        chosen.append(update.chosen_inline_result.result_id)

    app = fake_bot_api.application_builder().build()
    app.add_handler(InlineQueryHandler(inline))
    app.add_handler(ChosenInlineResultHandler(chose))
    await start_bot(app)
    fake_bot_api.inject_inline_query(USER, "shout")
    answer = await fake_bot_api.wait_for("answerInlineQuery")
    assert answer.params["results"][0]["title"] == "SHOUT"
    fake_bot_api.inject_chosen_inline_result(USER, "up", "shout")
    await wait_until(lambda: chosen == ["up"])


NAME, AGE = range(2)


def _conversation_app(api: FakeBotAPI, path: Path) -> Application[Any, Any, Any, Any, Any, Any]:
    async def begin(update: Update, context: Ctx) -> int:
        assert update.message is not None
        await update.message.reply_text("Your name?")
        return NAME

    async def name(update: Update, context: Ctx) -> int:
        assert update.message is not None
        assert context.user_data is not None
        context.user_data["name"] = update.message.text
        await update.message.reply_text("Your age?")
        return AGE

    async def age(update: Update, context: Ctx) -> int:
        assert update.message is not None
        assert context.user_data is not None
        await update.message.reply_markdown_v2(
            f"*{context.user_data['name']}*, {update.message.text}\\!"
        )
        return ConversationHandler.END

    conversation = ConversationHandler(
        [CommandHandler("signup", begin)],
        {
            NAME: [MessageHandler(filters.TEXT & ~filters.COMMAND, name)],
            AGE: [MessageHandler(filters.Regex(r"^\d+$"), age)],
        },
        [],
        name="signup",
        persistent=True,
    )
    persistence = PicklePersistence(path)
    app = api.application_builder().persistence(persistence).build()
    app.add_handler(conversation)
    return app


async def test_conversation_survives_a_restart_through_persistence(
    fake_bot_api: FakeBotAPI, start_bot: StartBot, tmp_path: Path
) -> None:
    path = tmp_path / "state.pickle"
    first = await start_bot(_conversation_app(fake_bot_api, path))
    fake_bot_api.inject_message(USER, "/signup")
    await fake_bot_api.wait_for_text(USER, "Your name?")
    fake_bot_api.inject_message(USER, "Ann")
    await fake_bot_api.wait_for_text(USER, "Your age?")
    await first.updater.stop()
    await first.stop()
    await first.shutdown()  # persistence is flushed
    await start_bot(_conversation_app(fake_bot_api, path))
    fake_bot_api.inject_message(USER, "33")
    done = await fake_bot_api.wait_for_text(USER, "Ann, 33!")
    assert done.message is not None
    assert done.message["entities"] == [{"type": "bold", "offset": 0, "length": 3}]


async def test_group_bot_greets_members_and_approves_join_requests(
    fake_bot_api: FakeBotAPI, start_bot: StartBot
) -> None:
    async def added(update: Update, context: Ctx) -> None:
        member = update.my_chat_member
        assert member is not None
        if member.new_chat_member.status == "administrator":
            await context.bot.send_message(member.chat.id, "Thanks for adding me")

    async def joined(update: Update, context: Ctx) -> None:
        member = update.chat_member
        assert member is not None
        if member.new_chat_member.status == "member":
            name = member.new_chat_member.user.first_name
            await context.bot.send_message(member.chat.id, f"Welcome, <i>{name}</i>", "HTML")

    async def request(update: Update, context: Ctx) -> None:
        assert update.chat_join_request is not None
        await update.chat_join_request.approve()

    app = fake_bot_api.application_builder().build()
    app.add_handler(ChatMemberHandler(added, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(ChatMemberHandler(joined, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(ChatJoinRequestHandler(request))
    await start_bot(app)
    fake_bot_api.add_group(GROUP, "Club", members={USER: "creator"})
    fake_bot_api.set_member_status(GROUP, fake_bot_api.bot_id(), "member", by=USER)
    fake_bot_api.set_member_status(GROUP, fake_bot_api.bot_id(), "administrator", by=USER)
    await fake_bot_api.wait_for_text(GROUP, "Thanks for adding me")
    fake_bot_api.add_user(8, "Bea")
    fake_bot_api.inject_chat_join_request(GROUP, 8)
    welcome = await fake_bot_api.wait_for_text(GROUP, "Welcome, Bea")
    assert welcome.message is not None
    assert welcome.message["entities"] == [{"type": "italic", "offset": 9, "length": 3}]


async def test_every_other_update_type_reaches_its_handler(
    fake_bot_api: FakeBotAPI, start_bot: StartBot
) -> None:
    seen: list[str] = []

    def note(kind: str) -> Any:
        async def handle(update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
            seen.append(kind)

        return handle

    app = fake_bot_api.application_builder().build()
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, note("edited_message")))
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST, note("channel_post")))
    app.add_handler(
        MessageHandler(filters.UpdateType.EDITED_CHANNEL_POST, note("edited_channel_post"))
    )
    app.add_handler(MessageHandler(filters.LOCATION, note("location")))
    app.add_handler(MessageHandler(filters.CONTACT, note("contact")))
    app.add_handler(MessageHandler(filters.PHOTO, note("photo")))
    app.add_handler(MessageReactionHandler(note("message_reaction")))
    app.add_handler(ChatBoostHandler(note("chat_boost"), ChatBoostHandler.ANY_CHAT_BOOST))
    app.add_handler(BusinessConnectionHandler(note("business_connection")))
    app.add_handler(MessageHandler(filters.UpdateType.BUSINESS_MESSAGES, note("business_message")))
    app.add_handler(BusinessMessagesDeletedHandler(note("deleted_business_messages")))
    app.add_handler(PaidMediaPurchasedHandler(note("purchased_paid_media")))
    app.add_handler(PollHandler(note("poll")))
    app.add_handler(TypeHandler(Update, note("any")), group=1)
    await start_bot(app)
    async with fake_bot_api.bot() as bot:
        fake_bot_api.add_user(USER)
        poll = await bot.send_poll(USER, "Q?", ["a", "b"])
    assert poll.poll is not None
    first = fake_bot_api.inject_message(USER, "typo")
    fake_bot_api.inject_edited_message(USER, first["message"]["message_id"], "fixed")
    post = fake_bot_api.inject_channel_post(-100900, "news")
    fake_bot_api.inject_channel_post(
        -100900, "news!", edit_message_id=post["channel_post"]["message_id"]
    )
    fake_bot_api.inject_location(USER, 51.5, -0.12)
    fake_bot_api.inject_contact(USER, "+440000")
    fake_bot_api.inject_photo(USER, b"\x89PNG")
    fake_bot_api.inject_message_reaction(USER, first["message"]["message_id"], USER, ["👍"])
    fake_bot_api.inject_chat_boost(-100900, USER)
    fake_bot_api.inject_business_connection(USER)
    fake_bot_api.inject_business_message(USER, "hi")
    fake_bot_api.inject_deleted_business_messages(USER, [1])
    fake_bot_api.inject_purchased_paid_media(USER, "pp")
    fake_bot_api.inject_poll_answer(5, poll.poll.id, [0])  # anonymous: a poll update
    expected = {
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "location",
        "contact",
        "photo",
        "message_reaction",
        "chat_boost",
        "business_connection",
        "business_message",
        "deleted_business_messages",
        "purchased_paid_media",
        "poll",
    }
    # 14 updates, each seen once by the catch-all group and once by its own handler.
    await wait_until(lambda: expected <= set(seen) and seen.count("any") == 14)
    assert sorted(set(seen) - {"any"}) == sorted(expected)


async def test_timer_bot_sends_its_jobs_and_stops_them(
    fake_bot_api: FakeBotAPI, start_bot: StartBot
) -> None:
    """PTB's job queue (the ``job-queue`` extra): one-shot and repeating jobs, /unset."""

    async def beep(context: Ctx) -> None:
        assert context.job is not None
        assert isinstance(context.job.chat_id, int)
        await context.bot.send_message(context.job.chat_id, f"Beep {context.job.name}!")

    async def set_timer(update: Update, context: Ctx) -> None:
        assert update.effective_chat is not None
        assert context.job_queue is not None
        chat_id = update.effective_chat.id
        context.job_queue.run_once(beep, 0.05, chat_id=chat_id, name="once")
        context.job_queue.run_repeating(beep, 0.05, chat_id=chat_id, name="again")
        await context.bot.send_message(chat_id, "Timers set")

    async def unset(update: Update, context: Ctx) -> None:
        assert update.effective_chat is not None
        assert context.job_queue is not None
        for job in context.job_queue.get_jobs_by_name("again"):
            job.schedule_removal()
        await context.bot.send_message(update.effective_chat.id, "Timers removed")

    app = fake_bot_api.application_builder().build()
    assert app.job_queue is not None, "the dev group installs python-telegram-bot[job-queue]"
    app.add_handler(CommandHandler("set", set_timer))
    app.add_handler(CommandHandler("unset", unset))
    await start_bot(app)
    fake_bot_api.inject_message(USER, "/set")
    await fake_bot_api.wait_for_text(USER, "Beep once!")
    start = fake_bot_api.mark()
    await wait_until(lambda: len(fake_bot_api.sent_since(start, chat_id=USER)) >= 2)
    fake_bot_api.inject_message(USER, "/unset")
    await fake_bot_api.wait_for_text(USER, "Timers removed", after=start)
    job_queue = app.job_queue
    await wait_until(lambda: not job_queue.jobs())  # the one-shot ran, the repeating is gone
    beeps = [
        s.text for s in fake_bot_api.sent_since(start, chat_id=USER) if "Beep" in (s.text or "")
    ]
    assert beeps
    assert set(beeps) == {"Beep again!"}
