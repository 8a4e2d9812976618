"""Builders for the Bot API JSON objects the fake returns and injects.

Only the fields PTB 22 needs to deserialize (plus the ones bots commonly read) are produced.
"""

from __future__ import annotations

import re
import time
from typing import Any

__all__ = [
    "NOT_BY_DEFAULT",
    "UPDATE_TYPES",
    "bot_user",
    "chat",
    "chat_full_info",
    "command_entities",
    "get_me",
    "message",
    "now",
    "update_type",
    "user",
    "utf16_len",
]

# What the real clients mark as a command at the start of a message: /name or /name@bot.
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")

UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)

# The real server leaves these out unless asked for them explicitly.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def now() -> int:
    """The current Unix time, as Telegram dates are."""
    return int(time.time())


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def update_type(update: dict[str, Any]) -> str | None:
    """The type of an update: its first key other than ``update_id``."""
    for key in update:
        if key != "update_id":
            return key
    return None


def bot_user(bot_id: int, username: str) -> dict[str, Any]:
    """The User object of the bot itself (``from`` of the messages it sends)."""
    return {"id": bot_id, "is_bot": True, "first_name": "Fake Test Bot", "username": username}


def get_me(bot_id: int, username: str) -> dict[str, Any]:
    """The ``getMe`` result."""
    return {
        **bot_user(bot_id, username),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def user(
    user_id: int,
    first_name: str = "Test",
    username: str | None = None,
    language_code: str | None = "en",
) -> dict[str, Any]:
    """A human user."""
    result: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        result["username"] = username
    if language_code:
        result["language_code"] = language_code
    return result


def chat(chat_id: int, first_name: str = "Test", username: str | None = None) -> dict[str, Any]:
    """A chat: private for positive ids, supergroup for -100..., group otherwise."""
    if chat_id > 0:
        result: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
        if username:
            result["username"] = username
        return result
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": f"Test {kind} {chat_id}"}


def chat_full_info(chat_obj: dict[str, Any]) -> dict[str, Any]:
    """The ``getChat`` result (ChatFullInfo) for a chat."""
    return {
        **chat_obj,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": True,
            "limited_gifts": True,
            "unique_gifts": True,
            "premium_subscription": True,
            "gifts_from_channels": True,
        },
    }


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for a leading /command, as Telegram clients send."""
    match = _COMMAND.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}]


def message(
    message_id: int, chat_obj: dict[str, Any], sender: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """A Message object; ``fields`` with value None are left out."""
    result: dict[str, Any] = {
        "message_id": message_id,
        "from": sender,
        "chat": chat_obj,
        "date": now(),
    }
    result.update({k: v for k, v in fields.items() if v is not None})
    return result
