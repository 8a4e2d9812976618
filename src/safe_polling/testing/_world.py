"""Users and chats that exist for a bot: private chats, groups with members, blocks, bots.

A private chat exists once its user wrote to the bot (any injected update from the user) or the
test declared it; a group exists once declared or once a message in it was injected. The bot
cannot write to a chat it does not know (``400 Bad Request: chat not found``), to a user who
blocked it (``403 Forbidden: bot was blocked by the user``), to another bot (``403 Forbidden:
bot can't send messages to bots``) or to a group it left or was removed from. Membership changes
made by the test produce the ``my_chat_member``/``chat_member`` updates Telegram sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from safe_polling.testing import _objects
from safe_polling.testing._params import ApiError, bad_request

if TYPE_CHECKING:
    from safe_polling.testing._state import BotState

__all__ = ["STATUSES", "ChatRecord", "add_group", "check_writable", "member", "see_user"]

# Statuses of ChatMember, and which of them let the bot (or a user) see and write to the chat.
STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
_PRESENT = frozenset({"creator", "administrator", "member", "restricted"})


@dataclass
class ChatRecord:
    """A chat the bot knows: its Chat object and who is in it (user id -> status)."""

    chat: dict[str, Any]
    members: dict[int, str] = field(default_factory=dict)


def see_user(state: BotState, user: dict[str, Any]) -> None:
    """Remember a user who wrote to the bot; their private chat now exists."""
    user_id = int(user["id"])
    state.users[user_id] = user
    record = state.chats.get(user_id)
    if record is not None:
        # The private chat carries the user's current names.
        record.chat.update(_objects.chat(user_id, user["first_name"], user.get("username")))
    else:
        chat = _objects.chat(user_id, user.get("first_name", "Test"), user.get("username"))
        state.chats[user_id] = ChatRecord(chat, {user_id: "member", state.bot_id: "member"})


def add_group(
    state: BotState,
    chat_id: int,
    title: str | None = None,
    members: dict[int, str] | None = None,
    *,
    kind: str | None = None,
) -> ChatRecord:
    """Declare a group, supergroup or channel the bot is a member of."""
    chat = _objects.chat(chat_id)
    if kind is not None:
        chat["type"] = kind
    if title is not None:
        chat["title"] = title
    record = state.chats.get(chat_id)
    if record is None:
        record = ChatRecord(chat, {state.bot_id: "administrator"})
        state.chats[chat_id] = record
    else:
        record.chat.update(chat)
    record.members.update(members or {})
    return record


def _kind(record: ChatRecord) -> str:
    return "supergroup chat" if record.chat["type"] == "supergroup" else "group chat"


def check_writable(state: BotState, chat_id: int) -> ChatRecord | None:
    """The chat the bot may write to, or the real server's refusal.

    Returns None when chats are not checked (``strict_chats`` off) and the chat is unknown.

    Raises:
        ApiError: ``400 chat not found``, ``403 bot was blocked by the user``, ``403 bot can't
            send messages to bots``, ``403 bot was kicked from the group chat``, ``403 bot is not
            a member of the group chat``.
    """
    record = state.chats.get(chat_id)
    if record is None:
        if state.strict_chats:
            raise bad_request("chat not found")
        return None
    user = state.users.get(chat_id)
    if chat_id > 0 and user is not None and user.get("is_bot"):
        raise ApiError(403, "Forbidden: bot can't send messages to bots")
    status = record.members.get(state.bot_id, "member")
    if chat_id > 0:
        if status == "kicked":
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return record
    if status == "kicked":
        raise ApiError(403, f"Forbidden: bot was kicked from the {_kind(record)}")
    if status == "left":
        raise ApiError(403, f"Forbidden: bot is not a member of the {_kind(record)}")
    return record


def member(state: BotState, chat_id: int, user_id: int) -> dict[str, Any]:
    """The ChatMember of ``user_id`` in ``chat_id`` (``left`` when not in it).

    Raises:
        ApiError: ``chat not found`` for an unknown chat under ``strict_chats``.
    """
    record = state.chats.get(chat_id)
    if record is None and state.strict_chats:
        raise bad_request("chat not found")
    status = record.members.get(user_id, "left") if record else "member"
    return member_object(state, user_id, status)


def member_object(state: BotState, user_id: int, status: str) -> dict[str, Any]:
    """A schema-complete ChatMember with ``status``."""
    if user_id == state.bot_id:
        user = _objects.bot_user(state.bot_id, state.username)
    else:
        user = state.users.get(user_id) or _objects.user(user_id)
    result: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        result["is_anonymous"] = False
    elif status == "administrator":
        result.update(
            {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        )
    elif status == "restricted":
        result.update(dict.fromkeys(_RESTRICTED, False) | {"is_member": True, "until_date": 0})
    elif status == "kicked":
        result["until_date"] = 0
    return result


_RESTRICTED = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)


def change_status(
    state: BotState, chat_id: int, user_id: int, status: str, by: int | None = None
) -> dict[str, Any]:
    """Change a member's status; returns the ``my_chat_member``/``chat_member`` update body.

    Raises:
        ValueError: unknown status.
        LookupError: unknown chat.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown chat member status {status!r}; one of {STATUSES}")
    record = state.chats.get(chat_id)
    if record is None:
        raise LookupError(f"chat {chat_id} does not exist; declare it first")
    old = record.members.get(user_id, "left")
    record.members[user_id] = status
    actor = by if by is not None else (chat_id if chat_id > 0 else user_id)
    if actor == state.bot_id:
        from_user = _objects.bot_user(state.bot_id, state.username)
    else:
        from_user = state.users.get(actor) or _objects.user(actor)
    kind = "my_chat_member" if user_id == state.bot_id else "chat_member"
    body = {
        "chat": record.chat,
        "from": from_user,
        "date": _objects.now(),
        "old_chat_member": member_object(state, user_id, old),
        "new_chat_member": member_object(state, user_id, status),
    }
    return {kind: body}


def present_count(record: ChatRecord) -> int:
    """Members currently in the chat (getChatMemberCount)."""
    return sum(1 for status in record.members.values() if status in _PRESENT)
