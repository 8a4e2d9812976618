"""Offline demo: the real bot against the fake Bot API and the fake KIE server.

``python -m kie_bot.demo`` (from ``examples/kie_bot``) needs no token, no KIE key and no
network: it starts both fakes on 127.0.0.1, runs the bot on a temporary SQLite file, plays
a user (start, top up with Stars, generate an image, then one model of every group of the
catalog, sending the photos, videos, audio files and voice messages each one needs) and
prints the conversation.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from kie_bot.app import build_application
from kie_bot.catalog import Model, load_catalog
from kie_bot.config import Settings
from kie_bot.downloads import origin_of
from kie_bot.handlers.models import steps
from kie_bot.kie.fake_server import FakeKie
from kie_bot.services import on_shutdown, on_start, on_stop
from safe_polling import safe_start_polling, safe_stop_polling
from safe_polling.testing import FakeBotAPI, Sent

__all__ = ["SAMPLE_FILES", "inject_file", "main"]

USER = 1001
WAIT = 10.0
# What the demo user sends for each kind of file input.
SAMPLE_FILES = {
    "photo": b"\xff\xd8photo",
    "video": b"\x00\x00\x00\x18ftypmp42",
    "audio": b"ID3audio",
}
_ARTICLES = {"photo": "a photo", "video": "a video", "audio": "an audio file"}
_RAW_IDS = itertools.count(900_000)  # message ids of raw messages, apart from the fake's own
_FILE_HOLDER = 1  # a user whose photos only register bytes with the fake's file store


def inject_file(
    api: FakeBotAPI, user_id: int, kind: str, data: bytes, size: int | None = None
) -> int:
    """The user sends a photo, video, audio file or voice message; return the sent mark.

    The fake Bot API injects photos only, so the bytes of a video or an audio file are
    registered through a photo to another user (getFile serves any stored file) and the
    user's message is injected as a raw update naming that file. ``size`` overrides the
    ``file_size`` Telegram announces (to announce a file too large to download).

    .. versionadded:: 0.1.0
    """
    if kind == "photo" and size is None:
        mark = api.sent_count
        api.inject_photo(user_id, data)
        return mark
    holder = api.inject_photo(_FILE_HOLDER, data)["message"]["photo"][-1]
    media: dict[str, Any] = {
        "file_id": holder["file_id"],
        "file_unique_id": holder["file_unique_id"],
        "file_size": len(data) if size is None else size,
    }
    extra: dict[str, dict[str, Any]] = {
        "photo": {"width": 1280, "height": 720},
        "video": {"width": 640, "height": 360, "duration": 3, "mime_type": "video/mp4"},
        "audio": {"duration": 3, "mime_type": "audio/mpeg"},
        "voice": {"duration": 3, "mime_type": "audio/ogg"},
    }
    media.update(extra[kind])
    sender = {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "en"}
    message = {
        "message_id": next(_RAW_IDS),
        "from": sender,
        "chat": {"id": user_id, "type": "private", "first_name": "Test"},
        "date": int(time.time()),
        kind: [media] if kind == "photo" else media,
    }
    mark = api.sent_count
    api.inject_raw({"message": message})
    return mark


def _data(sent: Sent, prefix: str) -> str:
    markup = (sent.message or {}).get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if str(button.get("callback_data", "")).startswith(prefix):
                return str(button["callback_data"])
    raise LookupError(prefix)


class _User:
    """Plays one user and prints what the bot answers."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.shown = 0

    def show(self) -> None:
        for sent in self.api.sent(USER)[self.shown :]:
            if sent.method != "answerCallbackQuery":
                text = sent.text or str(sent.params.get("title") or "")
                print(f"  bot  [{sent.method}] {text.strip()}")
        self.shown = len(self.api.sent(USER))

    async def say(self, text: str, expect: Any) -> Sent:
        print(f"  user {text}")
        mark = self.api.sent_count
        self.api.inject_message(USER, text)
        found = await self.api.wait_for(expect, chat_id=USER, after=mark, timeout=WAIT)
        self.show()
        return found

    async def press(self, sent: Sent, prefix: str, expect: Any) -> Sent:
        data = _data(sent, prefix)
        print(f"  user [presses {data}]")
        mark = self.api.sent_count
        assert sent.message is not None
        self.api.inject_callback_query(USER, data, message_id=sent.message["message_id"])
        found = await self.api.wait_for(expect, chat_id=USER, after=mark, timeout=WAIT)
        self.show()
        return found


def _has(prefix: str) -> Any:
    def check(sent: Sent) -> bool:
        try:
            _data(sent, prefix)
        except LookupError:
            return False
        return True

    return check


async def _play(api: FakeBotAPI) -> None:
    user = _User(api)
    await user.say("/start", "sendMessage")
    packages = await user.say("/topup", _has("pay:"))
    invoice = await user.press(packages, "pay:s50", "sendInvoice")
    payload = invoice.params["payload"]
    print("  user [pays 50 Stars]")
    api.inject_pre_checkout_query(USER, payload, 50)
    mark = api.sent_count
    api.inject_successful_payment(USER, payload, 50, "demo-charge-1")
    await api.wait_for_text(USER, "Payment received", after=mark, timeout=WAIT)
    user.show()
    menu = await user.say("/models", _has("cat:"))
    models = await user.press(menu, "cat:image", _has("model:"))
    await user.press(models, "model:nano-banana", "sendMessage")
    options = await user.say("a watercolor fox in the snow", _has("opt:"))
    price = await user.press(options, "opt:", _has("gen:go:"))
    await user.press(price, "gen:go:", "sendPhoto")
    await user.say("/balance", "sendMessage")
    await _tour(api, user)


async def _tour(api: FakeBotAPI, user: _User) -> None:
    """One model of every group: the cheapest, with whatever inputs it asks for."""
    print("  user [pays 150 Stars for the tour of every group]")
    mark = api.sent_count
    api.inject_successful_payment(USER, "topup:s150:160", 150, "demo-charge-2")
    await api.wait_for_text(USER, "Payment received", after=mark, timeout=WAIT)
    user.show()
    catalog = load_catalog()
    for group in catalog.groups:
        model = min(catalog.in_category(group), key=lambda m: m.price)
        print(f"  --- {group}: {model.title}")
        await _generate(api, user, model)


async def _generate(api: FakeBotAPI, user: _User, model: Model) -> None:
    """Walk *model*'s wizard (cheapest variant, first option, sample files), confirm."""
    menu = await user.say("/models", _has("cat:"))
    listing = await user.press(menu, f"cat:{model.category}", _has(f"model:{model.id}"))
    asked = await user.press(listing, f"model:{model.id}", "sendMessage")
    cheapest = min(range(len(model.variants)), key=lambda i: model.variants[i].price)
    for step in steps(model):
        if step == "variant":
            asked = await user.press(asked, f"var:{cheapest}", "sendMessage")
        elif step == "choice":
            asked = await user.press(asked, "opt:0", "sendMessage")
        elif not model.inputs[int(step[3:])].is_file:
            asked = await user.say(f"a short demo for {model.title}", "sendMessage")
        else:
            kind = model.inputs[int(step[3:])].kind
            sent = "photo" if kind == "photos" else kind
            print(f"  user [sends {_ARTICLES[sent]}]")
            mark = inject_file(api, USER, sent, SAMPLE_FILES[sent])
            asked = await api.wait_for("sendMessage", chat_id=USER, after=mark, timeout=WAIT)
            user.show()
            if kind == "photos":
                asked = await user.press(asked, "in:done", "sendMessage")
    mark = api.sent_count
    await user.press(asked, "gen:go:", "answerCallbackQuery")
    await api.wait_for_text(USER, f"{model.title}: done", after=mark, timeout=WAIT)
    user.show()


async def run_demo() -> None:
    """Start the fakes and the bot, play the conversation, stop everything."""
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeBotAPI(conflict_delay=0.2) as api, FakeKie() as kie:
            settings = Settings(
                bot_token=api.token,
                kie_api_key=kie.api_key,
                database_url=f"sqlite:///{Path(tmp) / 'demo.sqlite3'}",
                kie_api_url=kie.api_url,
                kie_upload_url=kie.upload_url,
                telegram_base_url=api.base_url,
                telegram_base_file_url=api.base_file_url,
                poll_interval=0.3,
                poll_max_interval=1.0,
                # The fake serves results over http on 127.0.0.1: trusted here only.
                result_trusted_origins=frozenset({origin_of(kie.api_url)}),
            )
            app = build_application(settings)
            await app.initialize()
            await on_start(app)  # what run_polling's post_init does
            # A separate program from bot_kie.py (its own process), so not a second poller.
            await safe_start_polling(app)  # safe-polling: ignore[SP101]
            try:
                await _play(api)
            finally:
                with contextlib.suppress(Exception):
                    await app.updater.stop()  # type: ignore[union-attr]
                    await app.stop()
                await on_stop(app)
                await safe_stop_polling(app)
                await on_shutdown(app)


def main() -> None:
    """Entry point of ``python -m kie_bot.demo``."""
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run_demo())
    print("demo finished: every step above went through real HTTP on 127.0.0.1")


if __name__ == "__main__":
    main()
