"""The method table of the fake Bot API and the bot-level methods (getMe, commands, getChat)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from safe_polling.testing import _media, _messages, _objects, _payments, _polling
from safe_polling.testing._core import Core
from safe_polling.testing._params import bad_request, get_json, get_str
from safe_polling.testing._state import BotState

Handler = Callable[[Core, BotState, dict[str, Any]], Awaitable[Any]]
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


async def get_me(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getMe``."""
    return _objects.get_me(state.bot_id, state.username)


async def get_chat(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getChat`` (minimal ChatFullInfo)."""
    return _objects.chat_full_info(state.chat_obj(_messages.chat_id_of(params)))


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


METHODS: dict[str, Handler] = {
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
    "sendPhoto": partial(_media.send_media, method="sendPhoto"),
    "sendVideo": partial(_media.send_media, method="sendVideo"),
    "sendAudio": partial(_media.send_media, method="sendAudio"),
    "sendDocument": partial(_media.send_media, method="sendDocument"),
    "getFile": _media.get_file,
    "sendInvoice": _payments.send_invoice,
    "answerPreCheckoutQuery": _payments.answer_pre_checkout_query,
    "refundStarPayment": _payments.refund_star_payment,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "getChat": get_chat,
}
# Method names are case-insensitive on the real server.
BY_LOWER = {name.lower(): name for name in METHODS}
