"""Test-side injection of messages (text, photo, any content, edits, channel posts), button
presses and raw updates; the other update types are in :mod:`._events`.

Every builder registers the users it involves (their private chat then exists), stores the
messages it creates (so the bot can reply to, edit, forward or delete them as on Telegram) and
queues the update unless the bot's ``allowed_updates`` exclude its type.
"""

from __future__ import annotations

from typing import Any

from safe_polling.testing import _objects, _world
from safe_polling.testing._state import BotState

__all__ = [
    "callback_query",
    "channel_post",
    "content",
    "edited_message",
    "message",
    "photo",
    "queue",
    "raw",
    "sender",
    "user_message",
]


def queue(state: BotState, update: dict[str, Any]) -> dict[str, Any]:
    """Queue ``update`` unless the remembered allowed_updates exclude its type.

    Like the real server, an excluded update is never created; it is still returned so the test
    sees what it asked for (without an ``update_id``).
    """
    if not state.wants(_objects.update_type(update)):
        return update
    return state.add_update(update)


def sender(
    state: BotState,
    user_id: int,
    first_name: str = "Test",
    username: str | None = None,
    language_code: str | None = "en",
    *,
    is_bot: bool = False,
) -> dict[str, Any]:
    """The User object of ``user_id``; the user (and their private chat) now exist."""
    known = state.users.get(user_id)
    if known is not None and first_name == "Test" and username is None:
        return known
    user = _objects.user(user_id, first_name, username, language_code)
    if is_bot:
        user = {**user, "is_bot": True}
    _world.see_user(state, user)
    return user


def _chat_for(state: BotState, user_id: int, chat_id: int | None) -> int:
    """The chat of a user's message; a group it is sent in exists from now on."""
    if chat_id is None or chat_id == user_id:
        return user_id
    record = state.chats.get(chat_id)
    if record is None:
        record = _world.add_group(state, chat_id)
    record.members.setdefault(user_id, "member")
    return chat_id


def user_message(
    state: BotState, user_id: int, chat_id: int | None, from_user: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """A stored message from a user (in their private chat or in ``chat_id``)."""
    target = _chat_for(state, user_id, chat_id)
    msg = _objects.message(
        state.new_message_id(target), state.chat_obj(target), from_user, **fields
    )
    state.store_message(msg, by_bot=False)
    return msg


def message(
    state: BotState,
    user_id: int,
    text: str,
    *,
    chat_id: int | None = None,
    language_code: str | None = "en",
    first_name: str = "Test",
    username: str | None = None,
    reply_to_message_id: int | None = None,
) -> dict[str, Any]:
    """A text message from a user (``bot_command`` entity for a leading /command)."""
    from_user = sender(state, user_id, first_name, username, language_code)
    entities = _objects.command_entities(text) or None
    target = _chat_for(state, user_id, chat_id)
    reply = None
    if reply_to_message_id is not None:
        stored = state.messages.get((target, reply_to_message_id))
        if stored is None or stored.deleted:
            raise LookupError(f"chat {target} has no message {reply_to_message_id}")
        reply = stored.message
    msg = user_message(
        state, user_id, target, from_user, text=text, entities=entities, reply_to_message=reply
    )
    return queue(state, {"message": msg})


def content(
    state: BotState, user_id: int, fields: dict[str, Any], chat_id: int | None = None
) -> dict[str, Any]:
    """A message with any content fields (location, contact, sticker...)."""
    msg = user_message(state, user_id, chat_id, sender(state, user_id), **fields)
    return queue(state, {"message": msg})


def photo(
    state: BotState, user_id: int, data: bytes, caption: str | None = None
) -> dict[str, Any]:
    """A photo from a user; its bytes are served by getFile and the file server."""
    stored = state.add_file(data, "photos", ".jpg")
    size = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(data),
        "width": 1280,
        "height": 720,
    }
    return content(state, user_id, {"photo": [size], "caption": caption})


def edited_message(state: BotState, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
    """A user edits the text of a message they sent.

    Raises:
        LookupError: no such message from a user.
    """
    stored = state.messages.get((chat_id, message_id))
    if stored is None or stored.deleted or stored.by_bot:
        raise LookupError(f"chat {chat_id} has no user message {message_id}")
    edited = {**stored.message, "text": text, "edit_date": _objects.now()}
    edited.pop("entities", None)
    if _objects.command_entities(text):
        edited["entities"] = _objects.command_entities(text)
    stored.message = edited
    return queue(state, {"edited_message": edited})


def channel_post(
    state: BotState, chat_id: int, text: str, *, edit_message_id: int | None = None
) -> dict[str, Any]:
    """A post in a channel the bot administers (or its edit, with ``edit_message_id``)."""
    record = state.chats.get(chat_id) or _world.add_group(state, chat_id, kind="channel")
    record.chat["type"] = "channel"
    if edit_message_id is not None:
        stored = state.messages.get((chat_id, edit_message_id))
        if stored is None or stored.deleted:
            raise LookupError(f"channel {chat_id} has no post {edit_message_id}")
        stored.message = {**stored.message, "text": text, "edit_date": _objects.now()}
        return queue(state, {"edited_channel_post": stored.message})
    post = {
        "message_id": state.new_message_id(chat_id),
        "sender_chat": record.chat,
        "chat": record.chat,
        "date": _objects.now(),
        "text": text,
    }
    state.store_message(post, by_bot=False)
    return queue(state, {"channel_post": post})


def _buttons(message: dict[str, Any]) -> set[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return {str(b["callback_data"]) for row in rows for b in row if "callback_data" in b}


def callback_query(
    state: BotState,
    user_id: int,
    data: str,
    message_id: int | None = None,
    chat_id: int | None = None,
    *,
    require_button: bool = True,
) -> dict[str, Any]:
    """A press on a button the bot's message currently has (the newest message by default).

    Raises:
        LookupError: the bot has no such message in the chat, or the message has no button
            with this ``callback_data`` now (e.g. the keyboard was edited away).
    """
    chat = chat_id if chat_id is not None else user_id
    if message_id is None:
        target = state.last_bot_message(chat)
    else:
        stored = state.messages.get((chat, message_id))
        target = stored.message if stored and stored.by_bot and not stored.deleted else None
    if target is None:
        raise LookupError(f"the bot has no message {message_id or ''} in chat {chat}")
    if require_button and data not in _buttons(target):
        raise LookupError(
            f"message {target['message_id']} in chat {chat} has no button with "
            f"callback_data {data!r} (it has {sorted(_buttons(target))})"
        )
    query = {
        "id": state.queries.add("callback", user_id, state.clock.now()),
        "from": sender(state, user_id),
        "message": target,
        "chat_instance": str(chat * 7 + 1),
        "data": data,
    }
    return queue(state, {"callback_query": query})


def raw(state: BotState, update: dict[str, Any]) -> dict[str, Any]:
    """Any update dict, first checked the way python-telegram-bot will parse it.

    Raises:
        ValueError: the update has no known type, or PTB's ``Update.de_json`` rejects it (a
            malformed update would otherwise make PTB log "Error while parsing updates" forever).
    """
    from telegram import Update

    kinds = [k for k in update if k != "update_id"]
    if len(kinds) != 1 or kinds[0] not in _objects.UPDATE_TYPES:
        raise ValueError(
            f"an update needs exactly one of {', '.join(_objects.UPDATE_TYPES)}; got {kinds}"
        )
    try:
        Update.de_json({"update_id": 1, **update}, None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"python-telegram-bot cannot parse this {kinds[0]} update: {exc!r}"
        ) from None
    return state.add_update(dict(update))
