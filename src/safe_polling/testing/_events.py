"""Test-side injection of the updates that are not plain messages: queries (inline,
shipping, pre-checkout), payments, poll answers, member changes and join requests, reactions,
boosts, business messages and paid media. Each produces what Telegram sends."""

from __future__ import annotations

from typing import Any

from safe_polling.testing import _objects, _polls, _world
from safe_polling.testing._inject import content, queue, sender, user_message
from safe_polling.testing._state import BotState

__all__ = [
    "business_connection",
    "business_message",
    "chat_boost",
    "chat_join_request",
    "chosen_inline_result",
    "deleted_business_messages",
    "inline_query",
    "member_change",
    "message_reaction",
    "message_reaction_count",
    "poll_answer",
    "pre_checkout_query",
    "purchased_paid_media",
    "shipping_query",
    "successful_payment",
]


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
    """A service message with ``successful_payment``; the charge becomes refundable and, in
    Telegram Stars, counts in the bot's balance and transactions."""
    state.charges.setdefault(telegram_payment_charge_id, (user_id, False))
    if currency == "XTR":
        state.star_balance += total_amount
        partner = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": sender(state, user_id),
            "invoice_payload": payload,
        }
        state.star_transactions.append(
            {
                "id": telegram_payment_charge_id,
                "amount": total_amount,
                "date": _objects.now(),
                "source": partner,
            }
        )
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
