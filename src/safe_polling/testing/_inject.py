"""Test-side injection of updates into a bot's queue."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from safe_polling.testing import _objects
from safe_polling.testing._state import BotState

_query_numbers = itertools.count(1)


def _queue(state: BotState, update: dict[str, Any]) -> dict[str, Any]:
    """Queue ``update`` unless the remembered allowed_updates exclude its type.

    Like the real server, an excluded update is never created; it is still returned so the test
    sees what it asked for (without an ``update_id``).
    """
    if not state.wants(_objects.update_type(update)):
        return update
    return state.add_update(update)


def _sender(
    state: BotState,
    user_id: int,
    first_name: str = "Test",
    username: str | None = None,
    language_code: str | None = "en",
) -> dict[str, Any]:
    sender = _objects.user(user_id, first_name, username, language_code)
    state.users[user_id] = sender
    return sender


def _user_message(
    state: BotState, user_id: int, chat_id: int | None, sender: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    target = user_id if chat_id is None else chat_id
    msg = _objects.message(state.new_message_id(target), state.chat_obj(target), sender, **fields)
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
) -> dict[str, Any]:
    """A text message from a user (``bot_command`` entity for a leading /command)."""
    sender = _sender(state, user_id, first_name, username, language_code)
    entities = _objects.command_entities(text) or None
    msg = _user_message(state, user_id, chat_id, sender, text=text, entities=entities)
    return _queue(state, {"message": msg})


def photo(
    state: BotState, user_id: int, data: bytes, caption: str | None = None
) -> dict[str, Any]:
    """A photo from a user; its bytes are served by getFile and the file server."""
    sender = _sender(state, user_id)
    stored = state.add_file(data, "photos", ".jpg")
    size = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(data),
        "width": 1280,
        "height": 720,
    }
    msg = _user_message(state, user_id, None, sender, photo=[size], caption=caption)
    return _queue(state, {"message": msg})


def callback_query(
    state: BotState, user_id: int, data: str, message_id: int | None = None
) -> dict[str, Any]:
    """A button press on a message the bot sent (the newest one when no id is given).

    Raises:
        LookupError: when the bot sent no such message to the user.
    """
    if message_id is None:
        target = state.last_bot_message(user_id)
    else:
        stored = state.messages.get((user_id, message_id))
        target = stored.message if stored and stored.by_bot and not stored.deleted else None
    if target is None:
        raise LookupError(f"the bot has no message {message_id or ''} in chat {user_id}".strip())
    query_id = f"{next(_query_numbers)}{secrets.randbelow(10**9)}"
    state.callback_queries[query_id] = user_id
    query = {
        "id": query_id,
        "from": _sender(state, user_id),
        "message": target,
        "chat_instance": str(user_id * 7 + 1),
        "data": data,
    }
    return _queue(state, {"callback_query": query})


def pre_checkout_query(
    state: BotState, user_id: int, payload: str, total_amount: int, currency: str = "XTR"
) -> dict[str, Any]:
    """A pre-checkout query; answer it with answerPreCheckoutQuery."""
    query_id = f"{next(_query_numbers)}{secrets.randbelow(10**9)}"
    state.pre_checkout_queries[query_id] = user_id
    query = {
        "id": query_id,
        "from": _sender(state, user_id),
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": payload,
    }
    return _queue(state, {"pre_checkout_query": query})


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
    msg = _user_message(state, user_id, None, _sender(state, user_id), successful_payment=payment)
    return _queue(state, {"message": msg})


def raw(state: BotState, update: dict[str, Any]) -> dict[str, Any]:
    """Any update dict as given (``update_id`` assigned unless present)."""
    return state.add_update(dict(update))
