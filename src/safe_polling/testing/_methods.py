"""The method table of the fake Bot API and the bot-level methods (getMe, commands, the bot's
name and descriptions, menu buttons)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from safe_polling.testing import (
    _catalog,
    _chats,
    _content,
    _forward,
    _inline,
    _media,
    _messages,
    _objects,
    _payments,
    _polling,
    _polls,
)
from safe_polling.testing._core import Core
from safe_polling.testing._params import bad_request, get_int, get_json, get_str
from safe_polling.testing._state import BotState

__all__ = [
    "BY_LOWER",
    "METHODS",
    "Handler",
    "delete_my_commands",
    "get_me",
    "get_my_commands",
    "set_chat_menu_button",
    "set_my_commands",
    "set_profile_text",
]

Handler = Callable[[Core, BotState, dict[str, Any]], Awaitable[Any]]
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


async def get_me(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getMe``."""
    return _objects.get_me(state.bot_id, state.username)


def _commands_key(params: dict[str, Any]) -> str:
    scope = get_json(params, "scope", "scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + get_str(params, "language_code")


async def set_my_commands(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``setMyCommands``: validates names like the real server (BOT_COMMAND_INVALID)."""
    commands = get_json(params, "commands", "commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        name = command.get("command") if isinstance(command, dict) else None
        if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name.removeprefix("/")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    state.commands[_commands_key(params)] = [
        {"command": c["command"].removeprefix("/"), "description": c["description"]}
        for c in commands
    ]
    return True


async def get_my_commands(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getMyCommands``."""
    return state.commands.get(_commands_key(params), [])


async def delete_my_commands(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``deleteMyCommands``."""
    state.commands.pop(_commands_key(params), None)
    return True


def _profile_key(method: str) -> str:
    return {"setMyName": "name", "setMyDescription": "description"}.get(
        method, "short_description"
    )


# setMy* method -> (parameter, limit in characters)
_PROFILE_LIMITS = {"setMyName": 64, "setMyDescription": 512, "setMyShortDescription": 120}


async def set_profile_text(
    core: Core, state: BotState, params: dict[str, Any], method: str
) -> Any:
    """``setMyName``/``setMyDescription``/``setMyShortDescription`` (empty text removes it)."""
    field = _profile_key(method)
    text = get_str(params, field)
    if len(text) > _PROFILE_LIMITS[method]:
        raise bad_request(f"{field.upper()}_INVALID")
    key = (field, get_str(params, "language_code"))
    if text:
        state.profile[key] = text
    else:
        state.profile.pop(key, None)
    return True


async def set_chat_menu_button(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``setChatMenuButton`` (per chat, or the default one without chat_id)."""
    button = get_json(params, "menu_button", "menu button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in {
        "default",
        "commands",
        "web_app",
    }:
        raise bad_request("can't parse menu button JSON object")
    state.menu_buttons[get_int(params, "chat_id")] = button
    return True


def _table_rows() -> dict[str, Handler]:
    return {name: partial(_catalog.answer_from_table, method=name) for name in _catalog.TABLE}


def _rows(names: tuple[str, ...], handler: Callable[..., Awaitable[Any]]) -> dict[str, Handler]:
    return {name: partial(handler, method=name) for name in names}


METHODS: dict[str, Handler] = {
    **_table_rows(),
    "getMe": get_me,
    "getUpdates": _polling.get_updates,
    "setWebhook": _polling.set_webhook,
    "deleteWebhook": _polling.delete_webhook,
    "getWebhookInfo": _polling.get_webhook_info,
    "sendMessage": _messages.send_message,
    "editMessageText": _messages.edit_message_text,
    "editMessageCaption": _messages.edit_message_caption,
    "editMessageReplyMarkup": _messages.edit_message_reply_markup,
    "deleteMessage": _messages.delete_message,
    "sendChatAction": _messages.send_chat_action,
    "answerCallbackQuery": _messages.answer_callback_query,
    "getFile": _media.get_file,
    "sendInvoice": _payments.send_invoice,
    "answerPreCheckoutQuery": _payments.answer_pre_checkout_query,
    "refundStarPayment": _payments.refund_star_payment,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "getChat": _chats.get_chat,
    **_rows(tuple(_media.KINDS), _media.send_media),
    "sendMediaGroup": _media.send_media_group,
    "editMessageMedia": _media.edit_message_media,
    **_rows(tuple(_content.CONTENT), _content.send_content),
    "editMessageChecklist": _content.edit_checklist,
    "editMessageLiveLocation": _content.edit_live_location,
    "stopMessageLiveLocation": _content.stop_live_location,
    "setGameScore": _content.set_game_score,
    "forwardMessage": _forward.forward_message,
    "forwardMessages": _forward.forward_messages,
    "copyMessage": _forward.copy_message,
    "copyMessages": _forward.copy_messages,
    "deleteMessages": _forward.delete_messages,
    "pinChatMessage": _forward.pin_chat_message,
    "unpinChatMessage": _forward.unpin_chat_message,
    "unpinAllChatMessages": _forward.unpin_all_chat_messages,
    "setMessageReaction": _forward.set_message_reaction,
    "deleteMessageReaction": _forward.delete_reactions,
    "deleteAllMessageReactions": _forward.delete_reactions,
    "sendPoll": _polls.send_poll,
    "stopPoll": _polls.stop_poll,
    "answerInlineQuery": _inline.answer_inline_query,
    "answerShippingQuery": _payments.answer_shipping_query,
    "createInvoiceLink": _payments.create_invoice_link,
    "getChatMember": _chats.get_chat_member,
    "getChatAdministrators": _chats.get_chat_administrators,
    "getChatMemberCount": _chats.get_chat_member_count,
    "leaveChat": _chats.leave_chat,
    "banChatMember": _chats.ban_chat_member,
    "unbanChatMember": _chats.unban_chat_member,
    "restrictChatMember": _chats.restrict_chat_member,
    "promoteChatMember": _chats.promote_chat_member,
    "approveChatJoinRequest": partial(_chats.answer_join_request, approve=True),
    "declineChatJoinRequest": partial(_chats.answer_join_request, approve=False),
    **_rows(tuple(_PROFILE_LIMITS), set_profile_text),
    "setChatMenuButton": set_chat_menu_button,
}
# Method names are case-insensitive on the real server.
BY_LOWER = {name.lower(): name for name in METHODS}
