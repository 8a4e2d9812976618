"""The whole catalog through the chat: every model to its price, every task type to its result.

Real bot, fake Bot API, fake KIE server: the inputs are collected as a user sends them
(text, photos, a video, an audio file or a voice message), uploaded to KIE's upload host,
the price shown is the catalog's, and the result arrives as the kind the model makes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kie_harness import (
    WAIT,
    balance_of,
    buttons,
    confirm,
    data_starting,
    press,
    running_bot,
    say,
    services_of,
    settings_for,
    wait_markup,
    walk_to_price,
)

from kie_bot.catalog import Model, load_catalog
from kie_bot.demo import SAMPLE_FILES, inject_file
from kie_bot.kie import Api
from kie_bot.kie.fake_server import TRANSCRIPT, FakeKie
from safe_polling.testing import FakeBotAPI

USER = 6161
CATALOG = load_catalog()
# How each result kind reaches the user.
DELIVERY = {
    "photo": "sendPhoto",
    "video": "sendVideo",
    "audio": "sendAudio",
    "text": "sendMessage",
}


def first_of_each_type() -> list[Model]:
    """One market model of every task type in the catalog (the first one listed)."""
    chosen: dict[str, Model] = {}
    for model in CATALOG.models:
        if model.api is Api.MARKET:
            chosen.setdefault(model.type, model)
    return list(chosen.values())


@pytest.fixture
async def bot(fake_bot_api: FakeBotAPI, fake_kie: FakeKie, tmp_path: Path) -> AsyncIterator[Any]:
    settings = settings_for(
        fake_bot_api, fake_kie, f"sqlite:///{tmp_path}/bot.sqlite3", free_credits=100_000
    )
    async with running_bot(settings) as app:
        mark = await say(fake_bot_api, USER, "/start")
        await fake_bot_api.wait_for("sendMessage", chat_id=USER, after=mark, timeout=WAIT)
        yield app


async def test_every_model_reaches_its_price_confirmation(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, bot: Any
) -> None:
    api = fake_bot_api
    for model in CATALOG.models:
        data, screen = await walk_to_price(api, USER, model)
        price = model.variants[-1].price  # walk_to_price picks the last variant
        assert f"Price: {price} credits" in (screen.text or ""), model.id
        assert buttons(screen)[f"✅ Generate for {price} credits"] == data
    assert fake_kie.created() == []  # nothing was started, nothing charged
    assert await balance_of(bot, USER) == 100_000


@pytest.mark.parametrize("model", first_of_each_type(), ids=lambda m: f"{m.type}-{m.id}")
async def test_one_model_of_each_task_type_end_to_end(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, bot: Any, model: Model
) -> None:
    api = fake_bot_api
    data, _ = await walk_to_price(api, USER, model, voice=model.type == "stt")
    mark = await confirm(api, USER, data)
    method = DELIVERY[model.media]
    if model.media == "text":
        result = await api.wait_for_text(USER, TRANSCRIPT, after=mark, timeout=WAIT)
    else:
        result = await api.wait_for(method, chat_id=USER, after=mark, timeout=WAIT)
    assert result.method == method
    await services_of(bot).ready()[2].wait_idle(WAIT)
    assert await balance_of(bot, USER) == 100_000 - model.variants[-1].price
    (request,) = fake_kie.created()
    assert request.body["model"] == model.slug
    sent = request.body["input"]
    for spec in model.inputs:
        value = sent[spec.field]
        if not spec.is_file:
            assert value == f"a test for {model.id}"
            continue
        urls = [value] if spec.single else value
        assert all(url.startswith(fake_kie.upload_url) for url in urls), spec
        assert len(urls) == (2 if spec.kind == "photos" else 1)
    assert model.variants[-1].fields.items() <= sent.items()
    assert not [s for s in api.sent(USER) if "went wrong" in (s.text or "")]


async def test_a_file_too_large_for_telegram_is_refused_before_anything_is_charged(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, bot: Any
) -> None:
    api = fake_bot_api
    model = CATALOG.model("el-speech-to-text")
    assert model is not None
    mark = await say(api, USER, "/models")
    menu = await wait_markup(api, USER, "cat:", mark)
    mark = api.sent_count
    api.inject_callback_query(USER, "cat:voice", message_id=menu.message["message_id"])  # type: ignore[index]
    listing = await wait_markup(api, USER, f"model:{model.id}", mark)
    mark = api.sent_count
    api.inject_callback_query(USER, f"model:{model.id}", message_id=listing.message["message_id"])  # type: ignore[index]
    await api.wait_for_text(USER, "voice message", after=mark, timeout=WAIT)
    calls = len(api.calls)
    mark = inject_file(api, USER, "voice", SAMPLE_FILES["audio"], size=21 * 1024 * 1024)
    refused = await api.wait_for_text(USER, "too large", after=mark, timeout=WAIT)
    assert "20 MB" in (refused.text or "")
    assert "Nothing was charged" in (refused.text or "")
    assert fake_kie.uploads == {}
    assert not [c for c in api.calls[calls:] if c.method == "getFile"]
    # The wizard still waits for the audio: a smaller file goes through.
    mark = inject_file(api, USER, "audio", SAMPLE_FILES["audio"])
    await wait_markup(api, USER, "gen:go:", mark)
    assert list(fake_kie.uploads.values()) == [SAMPLE_FILES["audio"]]
    assert await balance_of(bot, USER) == 100_000


async def test_an_optional_photo_can_be_skipped_and_is_then_not_sent(
    fake_bot_api: FakeBotAPI, fake_kie: FakeKie, bot: Any
) -> None:
    api = fake_bot_api
    mark = await say(api, USER, "/models")
    menu = await wait_markup(api, USER, "cat:", mark)
    mark = await press(api, USER, menu, "cat:image")
    listing = await wait_markup(api, USER, "model:flux-pro", mark)
    mark = await press(api, USER, listing, "model:flux-pro")
    await api.wait_for_text(USER, "Describe", after=mark, timeout=WAIT)
    mark = await say(api, USER, "a lighthouse")
    options = await wait_markup(api, USER, "opt:", mark)
    mark = await press(api, USER, options, "opt:1")
    asked = await wait_markup(api, USER, "in:skip", mark)
    assert "optional" in (asked.text or "")
    mark = await press(api, USER, asked, "in:skip")
    screen = await wait_markup(api, USER, "gen:go:", mark)
    assert "Photos: 0" in (screen.text or "")
    mark = await confirm(api, USER, data_starting(screen, "gen:go:"))
    await api.wait_for("sendPhoto", chat_id=USER, after=mark, timeout=WAIT)
    (request,) = fake_kie.created("flux")
    assert "inputImage" not in request.body
    assert request.body["aspectRatio"] == "16:9"
