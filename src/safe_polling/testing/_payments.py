"""Telegram Stars payments: sendInvoice, answerPreCheckoutQuery, refundStarPayment.

Error descriptions for invoice validation are the fake's own wording (the checks match what
the real server enforces for ``XTR``: no provider token, exactly one price).
"""

from __future__ import annotations

from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._messages import chat_id_of, send_bot_message
from safe_polling.testing._params import (
    bad_request,
    get_bool,
    get_int,
    get_json,
    get_str,
    recordable,
)
from safe_polling.testing._state import BotState

QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


def _required(params: dict[str, Any], name: str, max_len: int) -> str:
    value = get_str(params, name)
    if not value:
        raise bad_request(f'parameter "{name}" is required')
    if len(value.encode()) > max_len:
        raise bad_request(f'parameter "{name}" is too long')
    return value


def _total(params: dict[str, Any], currency: str) -> int:
    prices = get_json(params, "prices", "prices")
    if not isinstance(prices, list) or not prices:
        raise bad_request("can't parse prices JSON object")
    if currency == "XTR" and len(prices) != 1:
        raise bad_request("invoices in Telegram Stars must have exactly one price")
    try:
        amounts = [int(p["amount"]) for p in prices]
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_request("can't parse prices JSON object") from exc
    if any(a <= 0 for a in amounts):
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    return sum(amounts)


async def send_invoice(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``sendInvoice``."""
    chat_id_of(params)
    title = _required(params, "title", 32)
    description = _required(params, "description", 255)
    _required(params, "payload", 128)
    currency = _required(params, "currency", 3)
    if currency == "XTR" and get_str(params, "provider_token"):
        raise bad_request("provider_token must be empty for payments in Telegram Stars")
    invoice = {
        "title": title,
        "description": description,
        "start_parameter": get_str(params, "start_parameter"),
        "currency": currency,
        "total_amount": _total(params, currency),
    }
    return send_bot_message(core, state, "sendInvoice", params, invoice=invoice)


async def answer_pre_checkout_query(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``answerPreCheckoutQuery``: once per query; ``ok=false`` needs an error_message."""
    query_id = get_str(params, "pre_checkout_query_id")
    if query_id not in state.pre_checkout_queries:
        raise bad_request(QUERY_INVALID)
    if not get_bool(params, "ok") and not get_str(params, "error_message"):
        raise bad_request("ERROR_MESSAGE_EMPTY")
    user_id = state.pre_checkout_queries.pop(query_id)
    core.record_sent(state, "answerPreCheckoutQuery", user_id, recordable(params), None, True)
    return True


async def refund_star_payment(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``refundStarPayment``: only a known charge of that user, only once."""
    user_id = get_int(params, "user_id")
    if not user_id:
        raise bad_request("user_id is empty")
    charge_id = get_str(params, "telegram_payment_charge_id")
    charge = state.charges.get(charge_id)
    if charge is None or charge[0] != user_id:
        raise bad_request("CHARGE_NOT_FOUND")
    if charge[1]:
        raise bad_request("CHARGE_ALREADY_REFUNDED")
    state.charges[charge_id] = (user_id, True)
    core.record_sent(state, "refundStarPayment", user_id, recordable(params), None, True)
    return True
