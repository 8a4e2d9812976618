"""Chat methods over the chats that exist: getChat, getChatMember, getChatAdministrators,
getChatMemberCount, leaveChat, banChatMember, unbanChatMember, restrictChatMember,
promoteChatMember, approveChatJoinRequest and declineChatJoinRequest."""

from __future__ import annotations

from typing import Any

from safe_polling.testing import _objects, _world
from safe_polling.testing._catalog import require
from safe_polling.testing._core import Core
from safe_polling.testing._messages import chat_id_of
from safe_polling.testing._params import bad_request, get_bool, get_int
from safe_polling.testing._state import BotState

__all__ = [
    "answer_join_request",
    "ban_chat_member",
    "get_chat",
    "get_chat_administrators",
    "get_chat_member",
    "get_chat_member_count",
    "leave_chat",
    "promote_chat_member",
    "restrict_chat_member",
    "unban_chat_member",
]


def _group(state: BotState, params: dict[str, Any]) -> _world.ChatRecord | None:
    """The group the bot acts in (private chats have no members to manage)."""
    chat_id = chat_id_of(params)
    record = _world.check_writable(state, chat_id)
    if chat_id > 0:
        raise bad_request("method is available for supergroup and channel chats only")
    return record


def _emit(state: BotState, update: dict[str, Any]) -> None:
    if state.wants(_objects.update_type(update)):
        state.add_update(update)


async def get_chat(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getChat`` (ChatFullInfo of a chat the bot can see)."""
    chat_id = chat_id_of(params)
    record = state.chats.get(chat_id)
    if record is None:
        _world.check_writable(state, chat_id)
        return _objects.chat_full_info(state.chat_obj(chat_id))
    return _objects.chat_full_info(record.chat)


async def get_chat_member(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getChatMember``: ``left`` for a user who is not in the chat."""
    require(params, ("chat_id", "user_id"))
    return _world.member(state, chat_id_of(params), get_int(params, "user_id"))


async def get_chat_administrators(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getChatAdministrators``: the creator and administrators of a group."""
    record = _group(state, params)
    if record is None:
        return []
    return [
        _world.member_object(state, user_id, status)
        for user_id, status in record.members.items()
        if status in {"creator", "administrator"}
    ]


async def get_chat_member_count(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getChatMemberCount``."""
    chat_id = chat_id_of(params)
    record = _world.check_writable(state, chat_id)
    return _world.present_count(record) if record is not None else 2


async def leave_chat(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``leaveChat``: the bot leaves a group (a ``my_chat_member`` update follows)."""
    chat_id = chat_id_of(params)
    record = _world.check_writable(state, chat_id)
    if chat_id > 0:
        raise bad_request("chat member status can't be changed in private chats")
    if record is not None:
        _emit(state, _world.change_status(state, chat_id, state.bot_id, "left", state.bot_id))
    return True


def _set_status(state: BotState, params: dict[str, Any], status: str, only_if: str = "") -> bool:
    require(params, ("chat_id", "user_id"))
    record = _group(state, params)
    user_id = get_int(params, "user_id")
    if record is None:
        return True
    if only_if and record.members.get(user_id) != only_if:
        return True
    update = _world.change_status(state, record.chat["id"], user_id, status, state.bot_id)
    _emit(state, update)
    return True


async def ban_chat_member(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``banChatMember``."""
    return _set_status(state, params, "kicked")


async def unban_chat_member(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``unbanChatMember``: a banned user becomes able to join again (status ``left``)."""
    only = "kicked" if get_bool(params, "only_if_banned") else ""
    return _set_status(state, params, "left", only)


async def restrict_chat_member(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``restrictChatMember``."""
    require(params, ("permissions",))
    return _set_status(state, params, "restricted")


async def promote_chat_member(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``promoteChatMember`` (any ``can_*`` true makes an administrator, none demotes)."""
    promoted = any(get_bool(params, key) for key in params if key.startswith("can_"))
    return _set_status(state, params, "administrator" if promoted else "member")


async def answer_join_request(
    core: Core, state: BotState, params: dict[str, Any], approve: bool
) -> Any:
    """``approveChatJoinRequest``/``declineChatJoinRequest``: only a pending request."""
    require(params, ("chat_id", "user_id"))
    key = (chat_id_of(params), get_int(params, "user_id"))
    if key not in state.join_requests:
        raise bad_request("HIDE_REQUESTER_MISSING")
    state.join_requests.discard(key)
    if approve:
        _set_status(state, params, "member")
    return True
