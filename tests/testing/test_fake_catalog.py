"""Every Bot API method python-telegram-bot speaks is served, and PTB parses every answer.

The list of methods comes from PTB itself (the camelCase aliases of ``telegram.Bot``), so a PTB
upgrade that adds a method the fake lacks fails ``test_every_ptb_method_is_served``.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import operator
import re
import types
import typing
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import telegram
from telegram import Bot, TelegramObject

from safe_polling.testing import FakeBotAPI
from safe_polling.testing._methods import METHODS

GROUP = -1001234
USER = 42
URL = "https://example.com/file.jpg"
ARTICLE = {
    "type": "article",
    "id": "a1",
    "title": "A",
    "input_message_content": {"message_text": "a"},
}


def ptb_methods() -> dict[str, Any]:
    """Bot API method name -> PTB's coroutine function, from the camelCase aliases."""
    return {
        name: getattr(Bot, name)
        for name in dir(Bot)
        if re.fullmatch(r"[a-z]+[A-Z]\w*", name)
        and inspect.iscoroutinefunction(getattr(Bot, name))
    }


PTB_METHODS = ptb_methods()


def test_every_ptb_method_is_served() -> None:
    missing = sorted(set(PTB_METHODS) - set(METHODS))
    assert missing == [], f"PTB {telegram.__version__} speaks methods the fake lacks: {missing}"
    assert len(PTB_METHODS) > 150  # the derivation found PTB's aliases, not nothing


def test_the_fake_serves_no_method_ptb_does_not_know() -> None:
    assert sorted(set(METHODS) - set(PTB_METHODS)) == []


# Values of parameters by name, used wherever a method requires them.
VALUES: dict[str, Any] = {
    "chat_id": GROUP,
    "user_id": USER,
    "text": "hello",
    "name": "pack_by_fake_test_bot",
    "title": "Title",
    "description": "Description",
    "payload": "p1",
    "currency": "XTR",
    "prices": [{"label": "Stars", "amount": 10}],
    "question": "Which?",
    "options": [{"text": "a"}, {"text": "b"}],
    "sticker": URL,
    "stickers": [{"sticker": URL, "format": "static", "emoji_list": ["😀"]}],
    "sticker_format": "static",
    "format": "static",
    "emoji_list": ["😀"],
    "position": 0,
    "custom_emoji_ids": ["1"],
    "message_thread_id": 1,
    "sender_chat_id": -1009,
    "permissions": {"can_send_messages": False},
    "business_connection_id": "biz42",
    "owned_gift_id": "g1",
    "story_id": 1,
    "content": {"type": "photo", "photo": URL},
    "active_period": 86400,
    "from_chat_id": GROUP,
    "from_story_id": 1,
    "gift_id": "g1",
    "month_count": 3,
    "star_count": 1000,
    "is_canceled": False,
    "telegram_payment_charge_id": "charge-1",
    "invite_link": "https://t.me/+abc",
    "subscription_period": 2592000,
    "subscription_price": 10,
    "guest_query_id": "1",
    "web_app_query_id": "1",
    "result": ARTICLE,
    "results": [ARTICLE],
    "button": {"text": "Go", "request_users": {"request_id": 1}},
    "errors": [],
    "draft_id": 1,
    "limit": 10,
    "score": 5,
    "new_owner_chat_id": USER,
    "is_access_restricted": False,
    "custom_title": "boss",
    "sticker_set_name": "pack_by_fake_test_bot",
    "show_gift_button": True,
    "accepted_gift_types": {
        "unlimited_gifts": True,
        "limited_gifts": True,
        "unique_gifts": True,
        "premium_subscription": True,
        "gifts_from_channels": True,
    },
    "first_name": "Ann",
    "photo": URL,
    "old_sticker": URL,
    "url": "https://example.com/hook",
    "commands": [{"command": "start", "description": "Start"}],
    "action": "typing",
    "ok": True,
    "shipping_options": [
        {"id": "post", "title": "Post", "prices": [{"label": "Post", "amount": 100}]}
    ],
    "checklist": {"title": "Todo", "tasks": [{"id": 1, "text": "a"}]},
    "media": [{"type": "photo", "media": URL}, {"type": "photo", "media": URL}],
    "animation": URL,
    "audio": URL,
    "document": URL,
    "video": URL,
    "video_note": URL,
    "voice": URL,
    "live_photo": URL,
    "game_short_name": "tetris",
    "latitude": 51.5,
    "longitude": -0.1,
    "address": "1 Test Street",
    "phone_number": "+440000",
    "reaction": [{"type": "emoji", "emoji": "👍"}],
}


class World:
    """What the fake holds before each method is called: chats, messages, queries."""

    def __init__(self) -> None:
        self.messages: dict[str, int] = {}
        self.queries: dict[str, str] = {}
        self.file_id = ""


async def _build_world(api: FakeBotAPI, http: httpx.AsyncClient) -> World:
    world = World()
    api.add_user(USER, "Ann")
    api.add_group(GROUP, "Club", members={USER: "member"})

    async def send(key: str, method: str, **params: Any) -> None:
        response = await http.post(f"/bot{api.token}/{method}", json={"chat_id": GROUP, **params})
        assert response.status_code == 200, response.text
        world.messages[key] = response.json()["result"]["message_id"]

    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    await send("text", "sendMessage", text="menu", reply_markup=keyboard)
    await send("photo", "sendPhoto", photo=URL, caption="cap")
    await send("poll", "sendPoll", question="Q?", options=["a", "b"])
    await send("live", "sendLocation", latitude=1, longitude=2, live_period=60)
    await send("game", "sendGame", game_short_name="tetris")
    await send(
        "checklist",
        "sendChecklist",
        business_connection_id="biz42",
        checklist=VALUES["checklist"],
    )
    await http.post(
        f"/bot{api.token}/pinChatMessage",
        json={"chat_id": GROUP, "message_id": world.messages["text"]},
    )
    photo = api.inject_photo(USER, b"\x89PNG")
    world.file_id = photo["message"]["photo"][-1]["file_id"]
    press = api.inject_callback_query(USER, "go", chat_id=GROUP, message_id=world.messages["text"])
    world.queries["callback_query_id"] = press["callback_query"]["id"]
    world.queries["inline_query_id"] = api.inject_inline_query(USER, "q")["inline_query"]["id"]
    shipping = api.inject_shipping_query(USER, "p1")
    world.queries["shipping_query_id"] = shipping["shipping_query"]["id"]
    checkout = api.inject_pre_checkout_query(USER, "p1", 10)
    world.queries["pre_checkout_query_id"] = checkout["pre_checkout_query"]["id"]
    api.inject_successful_payment(USER, "p1", 10, "charge-1")
    api.inject_chat_join_request(GROUP, 77)
    return world


# Methods acting on a particular stored message, and which one.
ON_MESSAGE = {
    "editMessageText": "text",
    "editMessageReplyMarkup": "text",
    "deleteMessage": "text",
    "pinChatMessage": "text",
    "forwardMessage": "text",
    "copyMessage": "text",
    "setMessageReaction": "text",
    "deleteMessageReaction": "text",
    "approveSuggestedPost": "text",
    "declineSuggestedPost": "text",
    "readBusinessMessage": "text",
    "editMessageCaption": "photo",
    "editMessageMedia": "photo",
    "stopPoll": "poll",
    "editMessageLiveLocation": "live",
    "stopMessageLiveLocation": "live",
    "setGameScore": "game",
    "editMessageChecklist": "checklist",
}
# Method-specific values on top of VALUES.
SPECIAL: dict[str, dict[str, Any]] = {
    "editMessageText": {"text": "changed"},
    "editMessageCaption": {"caption": "new caption"},
    "editMessageMedia": {"media": {"type": "photo", "media": URL, "caption": "other"}},
    "forwardMessage": {"chat_id": USER},
    "copyMessage": {"chat_id": USER},
    "forwardMessages": {"chat_id": USER},
    "copyMessages": {"chat_id": USER},
    "editMessageLiveLocation": {"latitude": 3, "longitude": 4},
    "editMessageChecklist": {"checklist": {"title": "Todo 2", "tasks": [{"id": 1, "text": "b"}]}},
    "sendPaidMedia": {"media": [{"type": "photo", "media": URL}]},
    "approveChatJoinRequest": {"user_id": 77},
    "declineChatJoinRequest": {"user_id": 77},
    "getUserPersonalChatMessages": {"user_id": USER},
    "refundStarPayment": {"user_id": USER},
    "sendMessageDraft": {"chat_id": USER, "text": "typing..."},
    "answerShippingQuery": {"shipping_options": VALUES["shipping_options"]},
}


def params_for(method: str, world: World) -> dict[str, Any]:
    """Every required parameter of ``method`` (PTB's required arguments), plus what it needs."""
    signature = inspect.signature(PTB_METHODS[method])
    required = [
        name
        for name, p in signature.parameters.items()
        if name != "self"
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    params: dict[str, Any] = {}
    for name in required:
        if name in world.queries:
            params[name] = world.queries[name]
        elif name == "file_id":
            params[name] = world.file_id
        elif name == "message_ids":
            params[name] = [world.messages["text"]]
        elif name != "message_id":  # set below from ON_MESSAGE
            params[name] = VALUES[name]
    if method in ON_MESSAGE:
        params["chat_id"] = GROUP
        params["message_id"] = world.messages[ON_MESSAGE[method]]
    if method in {"sendLocation", "sendVenue"}:
        params.update(latitude=VALUES["latitude"], longitude=VALUES["longitude"])
    if method == "sendVenue":
        params.update(title="Venue", address=VALUES["address"])
    if method == "sendContact":
        params.update(phone_number=VALUES["phone_number"], first_name="Ann")
    params.update(SPECIAL.get(method, {}))
    return params


def _resolve(annotation: Any) -> Any:
    if isinstance(annotation, str):
        # PTB's own annotation text, e.g. "UserProfilePhotos" or "Message | bool".
        parts = [
            getattr(builtins, p, None) or getattr(telegram, p) for p in annotation.split(" | ")
        ]
        return functools.reduce(operator.or_, parts)
    if isinstance(annotation, typing.ForwardRef):
        return getattr(telegram, annotation.__forward_arg__)
    return annotation


def check_parses(annotation: Any, result: Any, bot: Bot) -> None:
    """Deserialize ``result`` as PTB does for this return annotation; no unknown fields."""
    annotation = _resolve(annotation)
    if isinstance(annotation, types.UnionType):
        options = typing.get_args(annotation)
        if result is True and bool in options:
            return
        annotation = next(o for o in options if o is not bool)
    origin = typing.get_origin(annotation)
    if origin is tuple:
        item = _resolve(typing.get_args(annotation)[0])
        assert isinstance(result, list)
        for value in result:
            check_parses(item, value, bot)
        return
    if annotation in (bool, int, str):
        assert isinstance(result, annotation), result
        return
    assert issubclass(annotation, TelegramObject)
    parsed = annotation.de_json(result, bot)
    assert parsed is not None
    assert dict(parsed.api_kwargs) == {}, f"fields PTB does not know: {parsed.api_kwargs}"


@pytest_asyncio.fixture
async def ptb_bot(fake_bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with fake_bot_api.bot() as bot:
        yield bot


@pytest.mark.parametrize("method", sorted(PTB_METHODS))
async def test_every_method_answers_what_ptb_parses(
    method: str, fake_bot_api: FakeBotAPI, http: httpx.AsyncClient, ptb_bot: Bot
) -> None:
    world = await _build_world(fake_bot_api, http)
    params = params_for(method, world)
    response = await http.post(f"/bot{fake_bot_api.token}/{method}", json=params)
    body = response.json()
    assert (response.status_code, body["ok"]) == (200, True), body
    check_parses(inspect.signature(PTB_METHODS[method]).return_annotation, body["result"], ptb_bot)
