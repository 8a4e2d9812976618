"""Methods on stored messages: forwardMessage(s), copyMessage(s), deleteMessages, pins and
reactions (setMessageReaction, deleteMessageReaction, deleteAllMessageReactions).

A missing message is named as the real server names it (``message to forward not found``,
``message to copy not found``, ``message to pin not found``...); the lists of the plural methods
skip missing messages, as the real server does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._messages import chat_id_of, send_bot_message
from safe_polling.testing._params import (
    bad_request,
    get_int,
    get_json,
    get_str,
    present,
    recordable,
)
from safe_polling.testing._state import BotState

__all__ = [
    "copy_message",
    "copy_messages",
    "delete_messages",
    "delete_reactions",
    "forward_message",
    "forward_messages",
    "pin_chat_message",
    "set_message_reaction",
    "unpin_all_chat_messages",
    "unpin_chat_message",
]

MAX_IDS = 100
# Fields of a message that are its content (what a copy keeps).
_NOT_CONTENT = frozenset(
    {
        "message_id",
        "from",
        "chat",
        "date",
        "edit_date",
        "reply_to_message",
        "forward_origin",
        "reply_markup",
    }
)


def _source(state: BotState, chat_id: int, message_id: int, what: str) -> dict[str, Any]:
    """The stored message ``message_id`` of ``chat_id`` or the real ``{what} not found``."""
    stored = state.messages.get((chat_id, message_id))
    if stored is None or stored.deleted or not message_id:
        raise bad_request(f"{what} not found")
    return stored.message


def _from_chat(state: BotState, params: dict[str, Any]) -> int:
    if not present(params, "from_chat_id"):
        raise bad_request("from_chat_id is empty")
    return chat_id_of({"chat_id": params["from_chat_id"]})


def _ids(params: dict[str, Any]) -> list[int]:
    ids = get_json(params, "message_ids", "message identifiers")
    if not isinstance(ids, list) or not ids:
        raise bad_request("message identifiers are not specified")
    if len(ids) > MAX_IDS:
        raise bad_request("too many message identifiers specified")
    return sorted({int(i) for i in ids})


def _origin(state: BotState, source: dict[str, Any]) -> dict[str, Any]:
    sender = source.get("from") or {}
    if source["chat"]["type"] in {"channel"}:
        return {
            "type": "channel",
            "date": source["date"],
            "chat": source["chat"],
            "message_id": source["message_id"],
        }
    return {"type": "user", "date": source["date"], "sender_user": sender}


def _forward(
    core: Core, state: BotState, params: dict[str, Any], method: str, source: dict[str, Any]
) -> dict[str, Any]:
    content = {k: v for k, v in source.items() if k not in _NOT_CONTENT}
    return send_bot_message(
        core, state, method, params, forward_origin=_origin(state, source), **content
    )


def _copy(
    core: Core, state: BotState, params: dict[str, Any], method: str, source: dict[str, Any]
) -> dict[str, Any]:
    if "invoice" in source or ("poll" in source and source["poll"].get("type") == "quiz"):
        raise bad_request("message can't be copied")
    content = {k: v for k, v in source.items() if k not in _NOT_CONTENT}
    if present(params, "caption"):
        content["caption"] = get_str(params, "caption")
    return send_bot_message(core, state, method, params, **content)


async def forward_message(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``forwardMessage``: a new message in ``chat_id`` with ``forward_origin``."""
    chat_id_of(params)
    source = _source(
        state, _from_chat(state, params), get_int(params, "message_id"), "message to forward"
    )
    return _forward(core, state, params, "forwardMessage", source)


_Make = Callable[[Core, BotState, dict[str, Any], str, dict[str, Any]], dict[str, Any]]


def _each_stored(
    core: Core, state: BotState, params: dict[str, Any], method: str, make: _Make
) -> list[dict[str, Any]]:
    """The MessageIds of what *make* sent, one per stored message named; missing ones skipped."""
    chat_id_of(params)
    from_chat = _from_chat(state, params)
    result = []
    for message_id in _ids(params):
        stored = state.messages.get((from_chat, message_id))
        if stored is not None and not stored.deleted:
            sent = make(core, state, params, method, stored.message)
            result.append({"message_id": sent["message_id"]})
    return result


async def forward_messages(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``forwardMessages``: the MessageIds of the forwarded copies, missing ones skipped."""
    return _each_stored(core, state, params, "forwardMessages", _forward)


async def copy_message(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``copyMessage``: a new message without a link to the original; returns its MessageId."""
    chat_id_of(params)
    source = _source(
        state, _from_chat(state, params), get_int(params, "message_id"), "message to copy"
    )
    return {"message_id": _copy(core, state, params, "copyMessage", source)["message_id"]}


async def copy_messages(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``copyMessages``: the MessageIds of the copies, missing ones skipped."""
    return _each_stored(core, state, params, "copyMessages", _copy)


async def delete_messages(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``deleteMessages``: deletes the ones that exist (missing ones are skipped)."""
    chat_id = chat_id_of(params)
    for message_id in _ids(params):
        stored = state.messages.get((chat_id, message_id))
        if stored is not None:
            stored.deleted = True
    core.record_sent(state, "deleteMessages", chat_id, recordable(params), None, True)
    return True


async def pin_chat_message(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``pinChatMessage``: the message becomes the chat's pinned message."""
    chat_id = chat_id_of(params)
    message_id = get_int(params, "message_id")
    _source(state, chat_id, message_id, "message to pin")
    pins = state.pins.setdefault(chat_id, [])
    if message_id in pins:
        pins.remove(message_id)
    pins.append(message_id)
    core.record_sent(state, "pinChatMessage", chat_id, recordable(params), None, True)
    return True


async def unpin_chat_message(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``unpinChatMessage``: the given message, or the newest pinned one."""
    chat_id = chat_id_of(params)
    pins = state.pins.get(chat_id, [])
    message_id = get_int(params, "message_id") or (pins[-1] if pins else 0)
    if message_id not in pins:
        raise bad_request("message to unpin not found")
    pins.remove(message_id)
    core.record_sent(state, "unpinChatMessage", chat_id, recordable(params), None, True)
    return True


async def unpin_all_chat_messages(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``unpinAllChatMessages``."""
    chat_id = chat_id_of(params)
    state.pins.pop(chat_id, None)
    core.record_sent(state, "unpinAllChatMessages", chat_id, recordable(params), None, True)
    return True


def _reaction(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("type") not in {"emoji", "custom_emoji", "paid"}:
        raise bad_request("invalid reaction type specified")
    return value


async def set_message_reaction(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``setMessageReaction``: the bot's reactions on a message (kept in ``reactions``)."""
    chat_id = chat_id_of(params)
    message_id = get_int(params, "message_id")
    _source(state, chat_id, message_id, "message to react")
    given = get_json(params, "reaction", "reaction types") or []
    if not isinstance(given, list):
        raise bad_request("can't parse reaction types JSON object")
    state.reactions[(chat_id, message_id)] = [_reaction(r) for r in given]
    core.record_sent(state, "setMessageReaction", chat_id, recordable(params), None, True)
    return True


async def delete_reactions(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``deleteMessageReaction``/``deleteAllMessageReactions`` (checks the message only)."""
    chat_id = chat_id_of(params)
    if present(params, "message_id"):
        _source(state, chat_id, get_int(params, "message_id"), "message to delete reactions")
    return True
