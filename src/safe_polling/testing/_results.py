"""Results of the methods without state of their own: one schema-complete builder per type.

Every builder returns the JSON object the real server answers with, filled with the fields
python-telegram-bot requires to deserialize it; the values are plausible but invented (the fake
has no gifts, stories or business accounts of its own). Methods that change something the bot
can see again (messages, polls, members...) have their own module instead.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from typing import Any

from safe_polling.testing import _objects
from safe_polling.testing._params import get_int, get_json, get_str
from safe_polling.testing._state import BotState

__all__ = ["RESULTS", "ResultBuilder", "sticker"]

ResultBuilder = Callable[[BotState, dict[str, Any]], Any]
_numbers = itertools.count(1)


def sticker(file_id: str | None = None) -> dict[str, Any]:
    """A regular static Sticker."""
    number = next(_numbers)
    return {
        "file_id": file_id or f"FAKESTICKER{number}",
        "file_unique_id": f"US{number}",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }


def _invite_link(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    link = get_str(params, "invite_link") or f"https://t.me/+{secrets.token_urlsafe(12)}"
    result: dict[str, Any] = {
        "invite_link": link,
        "creator": _objects.bot_user(state.bot_id, state.username),
        "creates_join_request": bool(params.get("creates_join_request")),
        "is_primary": False,
        "is_revoked": False,
    }
    if get_str(params, "name"):
        result["name"] = get_str(params, "name")
    return result


def _revoked_link(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return {**_invite_link(state, params), "is_revoked": True}


def _story(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat = state.chat_obj(state.bot_id)
    return {"chat": chat, "id": get_int(params, "story_id") or next(_numbers)}


def _forum_topic(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_thread_id": next(_numbers),
        "name": get_str(params, "name"),
        "icon_color": get_int(params, "icon_color", 0x6FB9F0),
    }


def _rights() -> dict[str, Any]:
    names = (
        "is_anonymous",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    )
    return dict.fromkeys(names, False)


def _business_connection(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": get_str(params, "business_connection_id"),
        "user": _objects.user(1, "Business"),
        "user_chat_id": 1,
        "date": _objects.now(),
        "is_enabled": True,
    }


def _bot_text(key: str, field: str) -> ResultBuilder:
    def build(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
        return {field: state.profile.get((key, get_str(params, "language_code")), "")}

    return build


def _constant(value: Any) -> ResultBuilder:
    return lambda state, params: value


def _file(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return state.add_file(b"", "stickers", ".webp").as_file()


def _star_amount(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return {"amount": state.star_balance}


def _star_transactions(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    offset = get_int(params, "offset")
    limit = min(max(get_int(params, "limit", 100), 1), 100)
    return {"transactions": state.star_transactions[offset : offset + limit]}


def _menu_button(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return state.menu_buttons.get(get_int(params, "chat_id"), {"type": "default"})


def _prepared_inline_message(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return {"id": secrets.token_hex(8), "expiration_date": _objects.now() + 24 * 3600}


def _sticker_set(state: BotState, params: dict[str, Any]) -> dict[str, Any]:
    name = get_str(params, "name")
    return {"name": name, "title": name, "sticker_type": "regular", "stickers": [sticker()]}


def _custom_emoji_stickers(state: BotState, params: dict[str, Any]) -> list[Any]:
    ids = get_json(params, "custom_emoji_ids", "custom_emoji_ids") or []
    return [{**sticker(), "type": "custom_emoji", "custom_emoji_id": str(i)} for i in ids]


RESULTS: dict[str, ResultBuilder] = {
    "true": _constant(True),
    "empty_list": _constant([]),
    "invite_link": _invite_link,
    "revoked_invite_link": _revoked_link,
    "invite_link_url": lambda state, params: f"https://t.me/+{secrets.token_urlsafe(12)}",
    "invoice_link": lambda state, params: f"https://t.me/$invoice{secrets.token_hex(6)}",
    "bot_token": lambda state, params: (
        f"{secrets.randbelow(10**9) + 10**9}:" + secrets.token_urlsafe(27)[:35]
    ),
    "story": _story,
    "owned_gifts": _constant({"total_count": 0, "gifts": []}),
    "gifts": _constant({"gifts": []}),
    "star_amount": _star_amount,
    "custom_emoji_stickers": _custom_emoji_stickers,
    "file": _file,
    "sent_guest_message": lambda state, params: {"inline_message_id": secrets.token_hex(8)},
    "sent_web_app_message": _constant({}),
    "forum_topic": _forum_topic,
    "business_connection": _business_connection,
    "menu_button": _menu_button,
    "bot_access_settings": _constant({"is_access_restricted": False}),
    "administrator_rights": lambda state, params: _rights(),
    "description": _bot_text("description", "description"),
    "short_description": _bot_text("short_description", "short_description"),
    "name": _bot_text("name", "name"),
    "star_transactions": _star_transactions,
    "sticker_set": _sticker_set,
    "user_chat_boosts": _constant({"boosts": []}),
    "user_profile_audios": _constant({"total_count": 0, "audios": []}),
    "user_profile_photos": _constant({"total_count": 0, "photos": []}),
    "prepared_inline_message": _prepared_inline_message,
    "prepared_keyboard_button": lambda state, params: {"id": secrets.token_hex(8)},
}
