"""Run the real KIE bot in-process against the fake Bot API and the fake KIE server.

The bot is started in ``safe_polling.run_polling``'s order: ``initialize``, ``post_init``
(open the database, resume), polling; and stopped in PTB's: updater, application,
``post_stop``, shutdown, ``post_shutdown``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from telegram.ext import Application

from kie_bot.app import build_application
from kie_bot.catalog import Model
from kie_bot.config import Settings
from kie_bot.demo import SAMPLE_FILES, inject_file
from kie_bot.downloads import origin_of
from kie_bot.handlers.models import steps
from kie_bot.kie.fake_server import FakeKie
from kie_bot.services import Services, get_services, on_shutdown, on_start, on_stop
from safe_polling import safe_start_polling, safe_stop_polling
from safe_polling.testing import FakeBotAPI, Sent

WAIT = 10.0  # generous bound for any single wait; never a timing assertion
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kie_bot"
BOT_SCRIPT = EXAMPLE / "bot_kie.py"


def process_env(api: FakeBotAPI, kie: FakeKie, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of ``bot_kie.py`` run as a process against the fakes.

    The caller's own ``SAFE_POLLING_*`` and ``KIE_*`` variables are left out; *extra*
    (the lease, the queue...) is added.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFE_POLLING", "KIE_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_BASE_URL=api.base_url,
        TELEGRAM_BASE_FILE_URL=api.base_file_url,
        KIE_API_KEY=kie.api_key,
        KIE_API_URL=kie.api_url,
        KIE_UPLOAD_URL=kie.upload_url,
        RESULT_TRUSTED_ORIGINS=kie.api_url,  # the fake serves results on 127.0.0.1
        DATABASE_URL=database_url,
        KIE_POLL_INTERVAL="0.05",
        FREE_CREDITS="100",
        PYTHONUNBUFFERED="1",  # log lines must arrive as they happen
    )
    env.update(extra)
    env.pop("DATABASE_URL_TEST", None)
    return env


def settings_for(api: FakeBotAPI, kie: FakeKie, database_url: str, **overrides: Any) -> Settings:
    """Settings pointing at the fakes, with fast polling."""
    base = Settings(
        bot_token=api.token,
        kie_api_key=kie.api_key,
        database_url=database_url,
        kie_api_url=kie.api_url,
        kie_upload_url=kie.upload_url,
        telegram_base_url=api.base_url,
        telegram_base_file_url=api.base_file_url,
        free_credits=10,
        poll_interval=0.05,
        poll_max_interval=0.1,
        task_timeout=20.0,
        kie_backoff=0.01,
        result_trusted_origins=frozenset({origin_of(kie.api_url)}),
    )
    return dataclasses.replace(base, **overrides)


@asynccontextmanager
async def running_bot(
    settings: Settings,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """The bot, polling, until the block exits."""
    app = build_application(settings)
    await app.initialize()
    await on_start(app)
    try:
        await safe_start_polling(app)  # safe-polling: ignore[SP101] (one per test)
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await on_stop(app)
        await safe_stop_polling(app)
        await on_shutdown(app)


def services_of(app: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    """The bot's services."""
    return get_services(app)


def buttons(sent: Sent) -> dict[str, str]:
    """Callback data by button text of a sent message."""
    markup = (sent.message or {}).get("reply_markup") or {}
    return {
        b["text"]: b["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for b in row
        if "callback_data" in b
    }


def data_starting(sent: Sent, prefix: str) -> str:
    """The one callback data of *sent* starting with *prefix*."""
    (found,) = [d for d in buttons(sent).values() if d.startswith(prefix)]
    return found


async def press(api: FakeBotAPI, user_id: int, sent: Sent, data: str) -> int:
    """Press a button of *sent*; return the sent-count mark to wait after."""
    mark = api.sent_count
    api.inject_callback_query(user_id, data, message_id=sent.message["message_id"])  # type: ignore[index]
    return mark


async def say(api: FakeBotAPI, user_id: int, text: str, language_code: str = "en") -> int:
    """The user sends *text*; return the sent-count mark."""
    mark = api.sent_count
    api.inject_message(user_id, text, language_code=language_code)
    return mark


async def wait_markup(api: FakeBotAPI, user_id: int, prefix: str, after: int) -> Sent:
    """Wait for a message with a button whose data starts with *prefix*."""
    return await api.wait_for(
        lambda s: any(d.startswith(prefix) for d in buttons(s).values()),
        chat_id=user_id,
        after=after,
        timeout=WAIT,
    )


async def generate(
    api: FakeBotAPI,
    user_id: int,
    category: str,
    model: str,
    prompt: str,
    *,
    photo: bytes | None = None,
    option: int | None = 0,
) -> str:
    """Walk the wizard up to the price screen; return the confirm button's data."""
    mark = await say(api, user_id, "/models")
    menu = await wait_markup(api, user_id, "cat:", mark)
    mark = await press(api, user_id, menu, f"cat:{category}")
    models = await wait_markup(api, user_id, "model:", mark)
    mark = await press(api, user_id, models, f"model:{model}")
    await api.wait_for_text(user_id, "Describe", after=mark, timeout=WAIT)
    mark = await say(api, user_id, prompt)
    if option is not None:
        options = await wait_markup(api, user_id, "opt:", mark)
        mark = await press(api, user_id, options, f"opt:{option}")
    if photo is not None:
        await api.wait_for_text(user_id, "photo", after=mark, timeout=WAIT)
        mark = api.sent_count
        api.inject_photo(user_id, photo)
    price = await wait_markup(api, user_id, "gen:go:", mark)
    return data_starting(price, "gen:go:")


async def confirm(api: FakeBotAPI, user_id: int, data: str) -> int:
    """Press the Confirm button (the newest message carrying it)."""
    target = [s for s in api.sent(user_id) if data in buttons(s).values()][-1]
    return await press(api, user_id, target, data)


async def balance_of(app: Application[Any, Any, Any, Any, Any, Any], user_id: int) -> int:
    """The user's balance, read from the store."""
    store = services_of(app).store
    assert store is not None
    return await store.get_user_balance_async(user_id)


# -- every input kind ----------------------------------------------------------------------
def _bot_message(api: FakeBotAPI, user_id: int, after: int) -> Any:
    return api.wait_for(
        lambda s: s.method == "sendMessage", chat_id=user_id, after=after, timeout=WAIT
    )


async def walk_to_price(
    api: FakeBotAPI, user_id: int, model: Model, *, voice: bool = False
) -> tuple[str, Sent]:
    """Walk the wizard of *model* to its price screen, answering every step it asks.

    The last variant is chosen (the dearest, usually); every file input gets a sample
    file of its kind (a voice message instead of an audio file when *voice*); a
    several-photos input gets two photos then *Done*. Returns the Confirm data and the
    price screen.
    """
    mark = await say(api, user_id, "/models")
    menu = await wait_markup(api, user_id, "cat:", mark)
    mark = await press(api, user_id, menu, f"cat:{model.category}")
    listing = await wait_markup(api, user_id, "model:", mark)
    mark = await press(api, user_id, listing, f"model:{model.id}")
    for step in steps(model):
        asked = await _bot_message(api, user_id, mark)
        if step == "variant":
            mark = await press(api, user_id, asked, f"var:{len(model.variants) - 1}")
            continue
        if step == "choice":
            mark = await press(api, user_id, asked, "opt:0")
            continue
        spec = model.inputs[int(step[3:])]
        if not spec.is_file:
            mark = await say(api, user_id, f"a test for {model.id}")
        elif spec.kind == "photos":
            for _ in range(2):
                mark = inject_file(api, user_id, "photo", SAMPLE_FILES["photo"])
                added = await wait_markup(api, user_id, "in:done", mark)
            mark = await press(api, user_id, added, "in:done")
        else:
            kind = "voice" if spec.kind == "audio" and voice else spec.kind
            sample = SAMPLE_FILES["audio" if kind == "voice" else kind]
            mark = inject_file(api, user_id, kind, sample)
    price = await wait_markup(api, user_id, "gen:go:", mark)
    return data_starting(price, "gen:go:"), price
