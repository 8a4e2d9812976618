"""End to end: the real bot, the fake Bot API, the fake KIE server, SQLite or PostgreSQL."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from kie_harness import (
    WAIT,
    balance_of,
    buttons,
    confirm,
    generate,
    press,
    running_bot,
    say,
    services_of,
    settings_for,
    wait_markup,
)

from kie_bot.catalog import Params
from kie_bot.kie.fake_server import FakeKie, Outcome
from kie_bot.storage import State
from safe_polling.testing import FakeBotAPI

USER = 4242


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bot.sqlite3"


@pytest.fixture
async def pg_url(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"kie_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield pg_dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def top_up(api: FakeBotAPI, user_id: int, package: str, stars: int, charge: str) -> None:
    mark = await say(api, user_id, "/topup")
    packages = await wait_markup(api, user_id, "pay:", mark)
    mark = await press(api, user_id, packages, f"pay:{package}")
    invoice = await api.wait_for("sendInvoice", chat_id=user_id, after=mark, timeout=WAIT)
    payload = invoice.params["payload"]
    assert invoice.params["currency"] == "XTR"
    mark = api.sent_count
    api.inject_pre_checkout_query(user_id, payload, stars)
    answer = await api.wait_for("answerPreCheckoutQuery", after=mark, timeout=WAIT)
    assert answer.params["ok"] in (True, "true")
    mark = api.sent_count
    api.inject_successful_payment(user_id, payload, stars, charge)
    await api.wait_for_text(user_id, "Payment received", after=mark, timeout=WAIT)


async def journey(api: FakeBotAPI, kie: FakeKie, url: str) -> None:
    kie.set_outcome("veo3_fast", Outcome(polls=3))
    async with running_bot(settings_for(api, kie, url)) as app:
        mark = await say(api, USER, "/start")
        welcome = await api.wait_for_text(USER, "Hi, Test", after=mark, timeout=WAIT)
        assert "10 free credits" in (welcome.text or "")
        await top_up(api, USER, "s150", 150, "charge-1")
        assert await balance_of(app, USER) == 170

        data = await generate(api, USER, "image", "nano-banana", "a red fox")
        mark = await confirm(api, USER, data)
        photo = await api.wait_for("sendPhoto", chat_id=USER, after=mark, timeout=WAIT)
        assert photo.text == "✅ Nano Banana"
        data = await generate(api, USER, "video", "veo3-fast", "waves at dusk", option=1)
        mark = await confirm(api, USER, data)
        await api.wait_for("sendVideo", chat_id=USER, after=mark, timeout=WAIT)
        await api.wait_for_text(USER, "Veo 3 Fast: done", after=mark, timeout=WAIT)
        assert await balance_of(app, USER) == 170 - 4 - 60
        mark = await say(api, USER, "/history")
        history = await api.wait_for_text(USER, "Your last generations", after=mark, timeout=WAIT)
        assert "Veo 3 Fast · done · 60 cr" in (history.text or "")
        assert "Nano Banana · done · 4 cr" in (history.text or "")
        assert ".png" in (history.text or "")  # the result links

    # One progress message per generation, edited through its states.
    edits = [s for s in api.sent(USER) if s.method == "editMessageText"]
    assert any("generating" in (s.text or "") for s in edits)
    veo = kie.created("veo")[0].body
    assert veo == {
        "prompt": "waves at dusk",
        "model": "veo3_fast",
        "aspectRatio": "9:16",
        "generationType": "TEXT_2_VIDEO",
    }
    market = kie.created("market")[0].body
    assert market["input"]["prompt"] == "a red fox"
    assert market["input"]["image_size"] == "1:1"


async def test_new_user_tops_up_and_generates_image_and_video_sqlite(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    await journey(fake_bot_api, fake_kie, sqlite_url)


@pytest.mark.postgres
async def test_new_user_tops_up_and_generates_image_and_video_postgres(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, pg_url: str
) -> None:
    await journey(fake_bot_api, fake_kie, pg_url)


async def started(api: FakeBotAPI, user_id: int = USER, lang: str = "en") -> None:
    mark = await say(api, user_id, "/start", language_code=lang)
    await api.wait_for("sendMessage", chat_id=user_id, after=mark, timeout=WAIT)


async def refunds_in_ledger(app: object, user_id: int) -> list[str | None]:
    store = services_of(app).store  # type: ignore[arg-type]
    assert store is not None
    return [
        e.idempotency_key for e in await store.ledger(user_id) if e.reason.startswith("refund")
    ]


async def test_failed_generation_is_refunded_exactly_once(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = fake_bot_api
    fake_kie.set_outcome("google/nano-banana", Outcome(polls=1, fail="content policy"))
    async with running_bot(settings_for(api, fake_kie, sqlite_url)) as app:
        await started(api)
        data = await generate(api, USER, "image", "nano-banana", "something")
        mark = await confirm(api, USER, data)
        sent = await api.wait_for_text(USER, "were returned", after=mark, timeout=WAIT)
        assert "the generation failed (content policy)" in (sent.text or "")
        assert "Balance: 10" in (sent.text or "")
        svc = services_of(app)
        storage, _, generations = svc.ready()
        gen_id = data.rsplit(":", 1)[1]
        gen = await storage.get(gen_id)
        assert gen is not None
        assert gen.state is State.REFUNDED
        # Resuming again (a second leader, a replay) finds nothing to do.
        assert await generations.resume() == 0
        assert await refunds_in_ledger(app, USER) == [f"refund:{gen_id}"]
        assert await balance_of(app, USER) == 10
    assert not [s for s in api.sent(USER) if s.method == "sendPhoto"]
    assert "refund" in caplog.text  # the logs were captured
    assert fake_kie.api_key not in caplog.text
    assert api.token.split(":", 1)[1] not in caplog.text


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome(create_code=402), "temporarily unavailable"),
        (
            Outcome(create_code=402, http_status=402, use_message_key=True),
            "temporarily unavailable",
        ),
        (Outcome(create_code=429, http_status=429), "overloaded"),
        (Outcome(create_code=455), "temporarily unavailable"),
        (Outcome(create_code=500, http_status=500), "temporarily unavailable"),
        (Outcome(never_finish=True), "took too long"),
    ],
    ids=["402", "402-http-message", "429", "455", "500", "timeout"],
)
async def test_kie_failures_end_in_a_message_and_a_refund(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str, outcome: Outcome, reason: str
) -> None:
    api = fake_bot_api
    fake_kie.set_outcome("google/nano-banana", outcome)
    settings = settings_for(api, fake_kie, sqlite_url, task_timeout=0.5)
    async with running_bot(settings) as app:
        await started(api)
        data = await generate(api, USER, "image", "nano-banana", "a cat")
        mark = await confirm(api, USER, data)
        sent = await api.wait_for_text(USER, "were returned", after=mark, timeout=WAIT)
        assert reason in (sent.text or "")
        assert await balance_of(app, USER) == 10
        assert len(await refunds_in_ledger(app, USER)) == 1
    assert len(fake_kie.created()) == 1  # the create is never retried


async def test_duplicate_payment_update_credits_once(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    async with running_bot(settings_for(api, fake_kie, sqlite_url, free_credits=0)) as app:
        await started(api)
        mark = api.sent_count
        for _ in range(3):
            api.inject_successful_payment(USER, "topup:s50:50", 50, "charge-dup")
        await api.wait_for_text(USER, "Payment received", after=mark, timeout=WAIT)
        # A later message proves the three updates were all handled before we count.
        mark2 = await say(api, USER, "/balance")
        await api.wait_for_text(USER, "Your balance: 50", after=mark2, timeout=WAIT)
        oks = [s for s in api.sent(USER) if "Payment received" in (s.text or "")]
        assert len(oks) == 1
        assert await balance_of(app, USER) == 50
        storage, _, _ = services_of(app).ready()
        assert (await storage.stats())["stars"] == 50


async def test_pre_checkout_rejects_a_stale_or_tampered_payload(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    async with running_bot(settings_for(api, fake_kie, sqlite_url)):
        for payload, amount in (("topup:s50:50", 1), ("topup:nope:50", 50), ("topup:s50:999", 50)):
            mark = api.sent_count
            api.inject_pre_checkout_query(USER, payload, amount)
            answer = await api.wait_for("answerPreCheckoutQuery", after=mark, timeout=WAIT)
            assert answer.params["ok"] in (False, "false")
        mark = api.sent_count
        api.inject_pre_checkout_query(USER, "topup:s50:50", 50)
        answer = await api.wait_for("answerPreCheckoutQuery", after=mark, timeout=WAIT)
        assert answer.params["ok"] in (True, "true")


async def test_restart_mid_generation_resumes_and_delivers(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    fake_kie.set_outcome("veo3_fast", Outcome(never_finish=True))
    settings = settings_for(api, fake_kie, sqlite_url, free_credits=100)
    async with running_bot(settings) as app:
        await started(api)
        data = await generate(api, USER, "video", "veo3-fast", "a storm")
        mark = await confirm(api, USER, data)
        await api.wait_for_text(USER, "generating", after=mark, timeout=WAIT)
    gen_id = data.rsplit(":", 1)[1]
    (task_id,) = fake_kie.tasks
    fake_kie.finish(task_id)
    assert not [s for s in api.sent(USER) if s.method == "sendVideo"]

    mark = api.sent_count
    async with running_bot(settings) as app:  # the next instance (a deploy handover)
        await api.wait_for("sendVideo", chat_id=USER, after=mark, timeout=WAIT)
        await services_of(app).ready()[2].wait_idle(WAIT)
        gen = await services_of(app).ready()[0].get(gen_id)
        assert gen is not None
        assert gen.state is State.DONE
        assert await balance_of(app, USER) == 100 - 60
    assert len([s for s in api.sent(USER) if s.method == "sendVideo"]) == 1
    assert len(fake_kie.created()) == 1


async def test_concurrent_confirm_presses_charge_once(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    async with running_bot(settings_for(api, fake_kie, sqlite_url, free_credits=100)) as app:
        await started(api)
        data = await generate(api, USER, "image", "seedream", "a lighthouse")
        target = [s for s in api.sent(USER) if data in buttons(s).values()][-1]
        mark = api.sent_count
        for _ in range(4):
            api.inject_callback_query(USER, data, message_id=target.message["message_id"])  # type: ignore[index]
        await api.wait_for("sendPhoto", chat_id=USER, after=mark, timeout=WAIT)
        await services_of(app).ready()[2].wait_idle(WAIT)
        answers = [s for s in api.sent(USER)[mark:] if s.method == "answerCallbackQuery"]
        assert len(answers) == 4  # every press is answered
        assert await balance_of(app, USER) == 100 - 5  # Seedream 4.0: 5 KIE credits, markup 1
        assert len(fake_kie.created()) == 1


async def test_photo_input_is_uploaded_to_kie_for_image_to_video(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    async with running_bot(settings_for(api, fake_kie, sqlite_url, free_credits=100)):
        await started(api)
        data = await generate(
            api, USER, "animate", "veo3-i2v", "make it move", photo=b"\xff\xd8jpeg-bytes"
        )
        mark = await confirm(api, USER, data)
        await api.wait_for("sendVideo", chat_id=USER, after=mark, timeout=WAIT)
    (image_url,) = fake_kie.created("veo")[0].body["imageUrls"]
    assert image_url.startswith(fake_kie.upload_url)
    assert list(fake_kie.uploads.values()) == [b"\xff\xd8jpeg-bytes"]


async def test_too_large_result_is_sent_as_a_link(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    fake_kie.set_outcome("V4_5", Outcome(media_size=5000))
    settings = settings_for(api, fake_kie, sqlite_url, free_credits=100, max_upload_bytes=1000)
    async with running_bot(settings):
        await started(api)
        data = await generate(api, USER, "music", "suno", "a sea shanty", option=1)
        mark = await confirm(api, USER, data)
        await api.wait_for_text(USER, "Suno V4.5: done", after=mark, timeout=WAIT)
    links = [s for s in api.sent(USER) if "too large" in (s.text or "")]
    assert len(links) == 2  # Suno returns two tracks
    assert fake_kie.created("suno")[0].body["instrumental"] is True


async def test_russian_user_and_unknown_input_get_the_menu(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    async with running_bot(settings_for(api, fake_kie, sqlite_url)):
        mark = await say(api, USER, "/start", language_code="ru")
        await api.wait_for_text(USER, "Привет", after=mark, timeout=WAIT)
        mark = await say(api, USER, "hello?", language_code="ru")
        menu = await api.wait_for_text(USER, "Не понял", after=mark, timeout=WAIT)
        assert "menu:generate" in buttons(menu).values()
        # (The fake's callback queries and photos always carry language "en".)
        mark = api.sent_count
        api.inject_callback_query(
            USER,
            "gone:button",
            message_id=menu.message["message_id"],  # type: ignore[index]
            require_button=False,  # a keyboard an older release sent
        )
        await api.wait_for("answerCallbackQuery", chat_id=USER, after=mark, timeout=WAIT)
        await wait_markup(api, USER, "menu:generate", mark)
        mark = api.sent_count
        api.inject_photo(USER, b"unexpected")
        await wait_markup(api, USER, "menu:generate", mark)


async def test_insufficient_balance_offers_top_up_and_charges_nothing(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    async with running_bot(settings_for(api, fake_kie, sqlite_url, free_credits=5)) as app:
        await started(api)
        data = await generate(api, USER, "video", "veo3", "a city")
        mark = await confirm(api, USER, data)
        offer = await api.wait_for_text(USER, "Not enough credits", after=mark, timeout=WAIT)
        assert any(d.startswith("pay:") for d in buttons(offer).values())
        assert await balance_of(app, USER) == 5
    assert fake_kie.created() == []


async def test_admin_grant_stats_and_star_refund(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    admin = 777
    settings = settings_for(
        api, fake_kie, sqlite_url, admin_ids=frozenset({admin}), free_credits=0
    )
    async with running_bot(settings) as app:
        await started(api)
        mark = await say(api, USER, "/grant 1 100")  # not an admin: just the menu
        await api.wait_for_text(USER, "did not understand", after=mark, timeout=WAIT)
        mark = await say(api, admin, f"/grant {USER} 30")
        await api.wait_for_text(admin, "Granted 30 credits", after=mark, timeout=WAIT)
        assert await balance_of(app, USER) == 30
        # Digits int() refuses, a negative user, a typo of a grant: the usage, not an error.
        for bad in (
            f"/grant {USER} ²",
            "/grant ² 5",
            f"/grant -{USER} 5",
            f"/grant {USER} {10**30}",
        ):
            mark = await say(api, admin, bad)
            await api.wait_for_text(admin, "Usage: /grant", after=mark, timeout=WAIT)
        mark = await say(api, admin, "/refund ² charge-x")
        await api.wait_for_text(admin, "Usage: /refund", after=mark, timeout=WAIT)
        assert not [s for s in api.sent(admin) if "went wrong" in (s.text or "")]
        assert await balance_of(app, USER) == 30

        mark = api.sent_count
        api.inject_successful_payment(USER, "topup:s50:50", 50, "charge-r")
        await api.wait_for_text(USER, "Payment received", after=mark, timeout=WAIT)
        mark = await say(api, admin, f"/refund {USER} charge-r")
        await api.wait_for_text(admin, "Refunded 50", after=mark, timeout=WAIT)
        assert await balance_of(app, USER) == 30
        mark = await say(api, admin, f"/refund {USER} charge-r")
        await api.wait_for_text(admin, "already refunded", after=mark, timeout=WAIT)

        mark = await say(api, admin, "/stats")
        stats = await api.wait_for_text(admin, "Users:", after=mark, timeout=WAIT)
        assert "KIE account credits: 1000" in (stats.text or "")
    assert len([c for c in api.calls if c.method == "refundStarPayment"]) == 1


async def refunded_once(app: object, api: FakeBotAPI, gen_id: str, balance: int) -> None:
    """The generation ended REFUNDED, credited back once, and the user was told once."""
    storage, _, generations = services_of(app).ready()  # type: ignore[arg-type]
    await generations.wait_idle(WAIT)
    gen = await storage.get(gen_id)
    assert gen is not None
    assert gen.state is State.REFUNDED
    assert await refunds_in_ledger(app, USER) == [f"refund:{gen_id}"]
    assert await balance_of(app, USER) == balance  # type: ignore[arg-type]
    assert len([s for s in api.sent(USER) if "were returned" in (s.text or "")]) == 1
    assert await generations.resume() == 0  # nothing left to pick up


@pytest.mark.parametrize(
    "urls", [(), ("http://[::1",), ("not a url", "ftp://x/y.png", "https://" + "a" * 3000)]
)
async def test_success_without_a_usable_result_is_refunded_once_and_told(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str, urls: tuple[str, ...]
) -> None:
    api = fake_bot_api
    fake_kie.set_outcome("google/nano-banana", Outcome(result_urls=urls))
    async with running_bot(settings_for(api, fake_kie, sqlite_url)) as app:
        await started(api)
        data = await generate(api, USER, "image", "nano-banana", "a fox")
        mark = await confirm(api, USER, data)
        sent = await api.wait_for_text(USER, "were returned", after=mark, timeout=WAIT)
        assert "finished without a result" in (sent.text or "")
        await refunded_once(app, api, data.rsplit(":", 1)[1], 10)
    assert not [s for s in api.sent(USER) if s.method == "sendPhoto"]


async def test_generation_stuck_delivering_a_malformed_url_is_refunded_on_restart(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    # The state an older release left behind: charged, claimed for delivery, and a URL
    # that raised on every attempt (and on every restart).
    api = fake_bot_api
    settings = settings_for(api, fake_kie, sqlite_url)
    async with running_bot(settings) as app:
        await started(api)
        storage, _, _ = services_of(app).ready()
        await storage.insert_generation(
            "stuck", user_id=USER, chat_id=USER, lang="en", model="nano-banana",
            params=Params("p"), price=4,
        )  # fmt: skip
        await storage.store.subtract_user_balance_async(
            USER, 4, reason="generation", idempotency_key="charge:stuck"
        )
        for to, fields in (
            (State.CHARGED, {}),
            (State.SUBMITTED, {"task_id": "t-old", "submitted_at": 1}),
            (State.DELIVERING, {"result_urls": '["http://[::1"]'}),
        ):
            previous = {State.CHARGED: State.CREATED, State.SUBMITTED: State.CHARGED}
            assert await storage.transition(
                "stuck", (previous.get(to, State.SUBMITTED),), to, **fields
            )
    mark = api.sent_count
    async with running_bot(settings) as app:  # the restart
        await api.wait_for_text(USER, "were returned", after=mark, timeout=WAIT)
        await refunded_once(app, api, "stuck", 10)


async def test_result_on_an_untrusted_or_redirected_address_is_sent_as_a_link(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    # Only the fake's API origin is trusted; its second port (the upload origin) stands
    # for an internal service on 127.0.0.1 that a result URL must not reach.
    api = fake_bot_api
    internal = f"{fake_kie.upload_url}/files/secret.txt"
    fake_kie.uploads["secret.txt"] = b"internal-only"
    settings = settings_for(api, fake_kie, sqlite_url, free_credits=100)
    async with running_bot(settings) as app:
        await started(api)
        for outcome in (Outcome(result_urls=(internal,)), Outcome(redirect_to=internal)):
            fake_kie.set_outcome("google/nano-banana", outcome)
            data = await generate(api, USER, "image", "nano-banana", "a fox")
            mark = await confirm(api, USER, data)
            link = await api.wait_for_text(USER, "Download it", after=mark, timeout=WAIT)
            assert "internal-only" not in (link.text or "")
            await services_of(app).ready()[2].wait_idle(WAIT)
        assert await balance_of(app, USER) == 100 - 2 * 4
    assert not [s for s in api.sent(USER) if s.method == "sendPhoto"]
    fetched = [r.path for r in fake_kie.requests if r.path.startswith("/files/")]
    assert fetched == []  # never requested, not even once


async def test_payment_credits_only_what_the_catalog_sells_for_the_amount_paid(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    api = fake_bot_api
    admin = 777
    settings = settings_for(
        api, fake_kie, sqlite_url, admin_ids=frozenset({admin}), free_credits=0
    )
    forged = [
        ("topup:s50:5000", 50, "XTR"),  # credits in the payload not what s50 gives
        ("topup:s50:50", 1, "XTR"),  # paid less than the package costs
        ("topup:s50:²", 50, "XTR"),  # a digit int() refuses
        ("topup:nope:50", 50, "XTR"),  # no such package
        ("topup:s50:50", 50, "USD"),  # not Stars
        ("", 50, "XTR"),
    ]
    async with running_bot(settings) as app:
        await started(api)
        await started(api, admin)  # Telegram lets a bot write only to users who started it
        for i, (payload, amount, currency) in enumerate(forged):
            mark = api.sent_count
            api.inject_successful_payment(USER, payload, amount, f"forged-{i}", currency)
            report = await api.wait_for_text(admin, "not credited", after=mark, timeout=WAIT)
            assert f"forged-{i}" in (report.text or "")
        mark = api.sent_count
        api.inject_successful_payment(USER, "topup:s50:50", 50, "real")
        await api.wait_for_text(USER, "Payment received", after=mark, timeout=WAIT)
        assert await balance_of(app, USER) == 50
        # The admin can give the Stars of an unmatched payment back; no credits move.
        mark = await say(api, admin, f"/refund {USER} forged-0")
        await api.wait_for_text(admin, "Refunded 50", after=mark, timeout=WAIT)
        assert await balance_of(app, USER) == 50
    texts = [s.text or "" for s in api.sent(USER)]
    assert sum("Payment received" in text for text in texts) == 1
    assert not [text for text in texts if "went wrong" in text]
    assert "Traceback" not in caplog.text
    assert caplog.text.count("matches no package on sale") == len(forged)


async def test_history_with_long_and_many_links_fits_one_message(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, sqlite_url: str
) -> None:
    api = fake_bot_api
    async with running_bot(settings_for(api, fake_kie, sqlite_url)) as app:
        await started(api)
        storage, _, _ = services_of(app).ready()
        for i in range(10):
            urls = [f"https://cdn.example/{i}/{n}/" + "x" * 900 for n in range(3)]
            urls.append("https://cdn.example/huge/" + "y" * 1500)
            await storage.insert_generation(
                f"h{i}", user_id=USER, chat_id=USER, lang="en", model="veo3",
                params=Params("p"), price=60,
            )  # fmt: skip
            assert await storage.transition(
                f"h{i}", (State.CREATED,), State.DONE, result_urls=json.dumps(urls)
            )
        mark = await say(api, USER, "/history")
        sent = await api.wait_for_text(USER, "Your last generations", after=mark, timeout=WAIT)
    text = sent.text or ""
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert text.endswith("older entries do not fit here.")
    assert "(link too long to show)" in text
    assert "https://cdn.example/9/0/" in text  # the newest come first, whole
    lines = text.splitlines()
    assert all(line.endswith("x" * 900) for line in lines if "cdn.example" in line)
    assert not [s for s in api.sent(USER)[mark:] if "went wrong" in (s.text or "")]
