"""Test-side injection: one builder per update type, each producing what Telegram sends.

Every builder registers the users it involves (their private chat then exists), stores the
messages it creates (so the bot can reply to, edit, forward or delete them as on Telegram) and
queues the update unless the bot's ``allowed_updates`` exclude its type.
"""

from __future__ import annotations

from typing import Any

from safe_polling.testing import _objects, _polls, _world
from safe_polling.testing._state import BotState

__all__ = ["queue", "raw", "sender", "user_message"]


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


def inline_query(state: BotState, user_id: int, query: str, offset: str = "") -> dict[str, Any]:
    """An inline query typed by a user; answer it with answerInlineQuery."""
    body = {
        "id": state.queries.add("inline", user_id, state.clock.now()),
        "from": sender(state, user_id),
        "query": query,
        "offset": offset,
    }
    return queue(state, {"inline_query": body})


def chosen_inline_result(
    state: BotState, user_id: int, result_id: str, query: str
) -> dict[str, Any]:
    """The user picked one of the bot's inline results."""
    body = {"result_id": result_id, "from": sender(state, user_id), "query": query}
    return queue(state, {"chosen_inline_result": body})


SHIPPING_ADDRESS = {
    "country_code": "GB",
    "state": "",
    "city": "London",
    "street_line1": "1 Test Street",
    "street_line2": "",
    "post_code": "N1 1AA",
}


def shipping_query(
    state: BotState, user_id: int, payload: str, address: dict[str, str] | None = None
) -> dict[str, Any]:
    """A shipping query for an invoice with ``is_flexible``; answer with answerShippingQuery."""
    body = {
        "id": state.queries.add("shipping", user_id, state.clock.now()),
        "from": sender(state, user_id),
        "invoice_payload": payload,
        "shipping_address": {**SHIPPING_ADDRESS, **(address or {})},
    }
    return queue(state, {"shipping_query": body})


def pre_checkout_query(
    state: BotState, user_id: int, payload: str, total_amount: int, currency: str = "XTR"
) -> dict[str, Any]:
    """A pre-checkout query; answer it with answerPreCheckoutQuery within 10 s."""
    body = {
        "id": state.queries.add("pre_checkout", user_id, state.clock.now()),
        "from": sender(state, user_id),
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": payload,
    }
    return queue(state, {"pre_checkout_query": body})


def successful_payment(
    state: BotState,
    user_id: int,
    payload: str,
    total_amount: int,
    telegram_payment_charge_id: str,
    currency: str = "XTR",
) -> dict[str, Any]:
    """A service message with ``successful_payment``; the charge becomes refundable."""
    state.charges.setdefault(telegram_payment_charge_id, (user_id, False))
    payment = {
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": payload,
        "telegram_payment_charge_id": telegram_payment_charge_id,
        "provider_payment_charge_id": "",
    }
    return content(state, user_id, {"successful_payment": payment})


def poll_answer(
    state: BotState, user_id: int, poll_id: str, option_ids: list[int]
) -> dict[str, Any]:
    """A vote in a non-anonymous poll the bot sent; also updates its counts.

    Raises:
        LookupError: unknown or closed poll, or a choice it does not have.
    """
    found = _polls.vote(state, poll_id, user_id, option_ids)
    body = {
        "poll_id": poll_id,
        "user": sender(state, user_id),
        "option_ids": list(option_ids),
        "option_persistent_ids": [found.poll["options"][o]["persistent_id"] for o in option_ids],
    }
    if found.poll["is_anonymous"]:
        # Anonymous polls send only the new counts.
        return queue(state, {"poll": found.counted()})
    return queue(state, {"poll_answer": body})


def member_change(
    state: BotState, chat_id: int, user_id: int, status: str, by: int | None = None
) -> dict[str, Any]:
    """A status change: the bot's own (``my_chat_member``) or another member's (``chat_member``).

    Blocking the bot is the user setting the bot's status in their private chat to ``kicked``.
    """
    if chat_id > 0:
        sender(state, chat_id)
    return queue(state, _world.change_status(state, chat_id, user_id, status, by))


def chat_join_request(state: BotState, chat_id: int, user_id: int) -> dict[str, Any]:
    """A user asks to join a group; approve or decline with the matching methods."""
    record = state.chats.get(chat_id) or _world.add_group(state, chat_id)
    state.join_requests.add((chat_id, user_id))
    body = {
        "chat": record.chat,
        "from": sender(state, user_id),
        "user_chat_id": user_id,
        "date": _objects.now(),
    }
    return queue(state, {"chat_join_request": body})


def message_reaction(
    state: BotState, chat_id: int, message_id: int, user_id: int, emoji: list[str]
) -> dict[str, Any]:
    """A user changes their reactions on a message (the old ones are remembered)."""
    if (chat_id, message_id) not in state.messages:
        raise LookupError(f"chat {chat_id} has no message {message_id}")
    key = (chat_id, user_id, message_id)
    old = state.user_reactions.get(key, [])
    new = [{"type": "emoji", "emoji": e} for e in emoji]
    state.user_reactions[key] = new
    body = {
        "chat": state.chat_obj(chat_id),
        "message_id": message_id,
        "user": sender(state, user_id),
        "date": _objects.now(),
        "old_reaction": old,
        "new_reaction": new,
    }
    return queue(state, {"message_reaction": body})


def message_reaction_count(
    state: BotState, chat_id: int, message_id: int, counts: dict[str, int]
) -> dict[str, Any]:
    """Anonymous reaction counts on a channel post."""
    body = {
        "chat": state.chat_obj(chat_id),
        "message_id": message_id,
        "date": _objects.now(),
        "reactions": [
            {"type": {"type": "emoji", "emoji": e}, "total_count": n} for e, n in counts.items()
        ],
    }
    return queue(state, {"message_reaction_count": body})


def chat_boost(
    state: BotState, chat_id: int, user_id: int, *, removed: bool = False
) -> dict[str, Any]:
    """A premium user boosts a channel, or the boost is removed."""
    source = {"source": "premium", "user": sender(state, user_id)}
    boost_id = f"boost{chat_id}:{user_id}"
    chat = state.chat_obj(chat_id)
    if removed:
        body = {
            "chat": chat,
            "boost_id": boost_id,
            "remove_date": _objects.now(),
            "source": source,
        }
        return queue(state, {"removed_chat_boost": body})
    boost = {
        "boost_id": boost_id,
        "add_date": _objects.now(),
        "expiration_date": _objects.now() + 30 * 86400,
        "source": source,
    }
    return queue(state, {"chat_boost": {"chat": chat, "boost": boost}})


def business_connection(state: BotState, user_id: int, *, enabled: bool = True) -> dict[str, Any]:
    """A business account connects the bot (or disconnects it)."""
    body = {
        "id": f"biz{user_id}",
        "user": sender(state, user_id),
        "user_chat_id": user_id,
        "date": _objects.now(),
        "is_enabled": enabled,
    }
    return queue(state, {"business_connection": body})


def business_message(
    state: BotState, user_id: int, text: str, connection_id: str, *, edited: bool = False
) -> dict[str, Any]:
    """A message in a business chat the bot manages."""
    msg = user_message(
        state,
        user_id,
        None,
        sender(state, user_id),
        text=text,
        business_connection_id=connection_id,
    )
    if edited:
        msg["edit_date"] = _objects.now()
    return queue(state, {"edited_business_message" if edited else "business_message": msg})


def deleted_business_messages(
    state: BotState, chat_id: int, message_ids: list[int], connection_id: str
) -> dict[str, Any]:
    """Messages deleted in a business chat."""
    body = {
        "business_connection_id": connection_id,
        "chat": state.chat_obj(chat_id),
        "message_ids": list(message_ids),
    }
    return queue(state, {"deleted_business_messages": body})


def purchased_paid_media(state: BotState, user_id: int, payload: str) -> dict[str, Any]:
    """A user bought paid media the bot sent."""
    body = {"from": sender(state, user_id), "paid_media_payload": payload}
    return queue(state, {"purchased_paid_media": body})


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
