"""Messages without a file: sendLocation, sendVenue, sendContact, sendDice, sendGame,
sendPaidMedia, sendChecklist, editMessageChecklist, editMessageLiveLocation,
stopMessageLiveLocation and setGameScore."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._messages import (
    apply_edit,
    editable,
    formatted,
    inline_markup,
    send_bot_message,
)
from safe_polling.testing._params import bad_request, get_int, get_json, get_str, present
from safe_polling.testing._state import BotState

__all__ = [
    "CONTENT",
    "edit_checklist",
    "edit_live_location",
    "send_content",
    "set_game_score",
    "stop_live_location",
]

_Content = Callable[[dict[str, Any]], dict[str, Any]]
# Dice emoji -> highest value (Telegram's ranges).
DICE = {"🎲": 6, "🎯": 6, "🏀": 5, "⚽": 5, "🎳": 6, "🎰": 64}


def _coordinate(params: dict[str, Any], name: str, bound: float) -> float:
    if not present(params, name):
        raise bad_request(f"{name} is empty")
    try:
        value = float(get_str(params, name))
    except ValueError as exc:
        raise bad_request(f"wrong {name} specified") from exc
    if not -bound <= value <= bound:
        raise bad_request("wrong location specified")
    return value


def _location(params: dict[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = {
        "latitude": _coordinate(params, "latitude", 90),
        "longitude": _coordinate(params, "longitude", 180),
    }
    if present(params, "live_period"):
        location["live_period"] = get_int(params, "live_period")
    return {"location": location}


def _venue(params: dict[str, Any]) -> dict[str, Any]:
    for name in ("title", "address"):
        if not present(params, name):
            raise bad_request(f'parameter "{name}" is required')
    location = _location(params)["location"]
    venue = {"location": location, "title": get_str(params, "title")}
    venue["address"] = get_str(params, "address")
    return {"venue": venue, "location": location}


def _contact(params: dict[str, Any]) -> dict[str, Any]:
    for name in ("phone_number", "first_name"):
        if not present(params, name):
            raise bad_request(f'parameter "{name}" is required')
    contact = {k: get_str(params, k) for k in ("phone_number", "first_name", "last_name")}
    return {"contact": {k: v for k, v in contact.items() if v}}


def _dice(params: dict[str, Any]) -> dict[str, Any]:
    emoji = get_str(params, "emoji") or "🎲"
    if emoji not in DICE:
        raise bad_request("DICE_EMOJI_INVALID")
    return {"dice": {"emoji": emoji, "value": secrets.randbelow(DICE[emoji]) + 1}}


def _game(params: dict[str, Any]) -> dict[str, Any]:
    name = get_str(params, "game_short_name")
    if not name:
        raise bad_request('parameter "game_short_name" is required')
    return {"game": {"title": name, "description": name, "photo": []}}


def _paid_media(params: dict[str, Any]) -> dict[str, Any]:
    stars = get_int(params, "star_count")
    if not 1 <= stars <= 10000:
        raise bad_request("STARS_AMOUNT_INVALID")
    media = get_json(params, "media", "media")
    if not isinstance(media, list) or not media:
        raise bad_request('parameter "media" is required')
    caption, entities = formatted(params, "caption", 1024)
    paid = [{"type": "preview"} for _ in media]
    return {
        "paid_media": {"star_count": stars, "paid_media": paid},
        "caption": caption or None,
        "caption_entities": entities,
    }


def _checklist(params: dict[str, Any]) -> dict[str, Any]:
    checklist = get_json(params, "checklist", "checklist")
    if not isinstance(checklist, dict) or not isinstance(checklist.get("tasks"), list):
        raise bad_request("can't parse checklist JSON object")
    tasks = [
        {"id": t.get("id", i + 1), "text": t.get("text", "")}
        for i, t in enumerate(checklist["tasks"])
    ]
    return {"checklist": {"title": checklist.get("title", ""), "tasks": tasks}}


CONTENT: dict[str, _Content] = {
    "sendLocation": _location,
    "sendVenue": _venue,
    "sendContact": _contact,
    "sendDice": _dice,
    "sendGame": _game,
    "sendPaidMedia": _paid_media,
    "sendChecklist": _checklist,
}


async def send_content(core: Core, state: BotState, params: dict[str, Any], method: str) -> Any:
    """Send a message whose content :data:`CONTENT` builds from the parameters."""
    return send_bot_message(core, state, method, params, **CONTENT[method](params))


async def edit_checklist(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``editMessageChecklist``."""
    changes = {**_checklist(params), "reply_markup": inline_markup(params)}
    return apply_edit(core, state, "editMessageChecklist", params, changes)


async def edit_live_location(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``editMessageLiveLocation``: new coordinates of a live location the bot sent."""
    changes = {**_location(params), "reply_markup": inline_markup(params)}
    return apply_edit(core, state, "editMessageLiveLocation", params, changes)


async def stop_live_location(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``stopMessageLiveLocation``: the location stops being live (loses its live_period)."""
    if present(params, "inline_message_id"):
        return apply_edit(core, state, "stopMessageLiveLocation", params, {})
    location = editable(state, params).message.get("location")
    if not isinstance(location, dict) or "live_period" not in location:
        raise bad_request("message can't be edited")
    still = {k: v for k, v in location.items() if k != "live_period"}
    changes = {"location": still, "reply_markup": inline_markup(params)}
    return apply_edit(core, state, "stopMessageLiveLocation", params, changes)


async def set_game_score(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``setGameScore``: the game message as it is (the fake keeps no high score table)."""
    if get_int(params, "user_id") <= 0:
        raise bad_request("invalid user_id specified")
    if present(params, "inline_message_id"):
        return True
    stored = editable(state, params)
    if "game" not in stored.message:
        raise bad_request("message is not a game")
    return stored.message
