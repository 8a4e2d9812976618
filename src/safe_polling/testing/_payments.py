"""Payments: sendInvoice, createInvoiceLink, answerShippingQuery, answerPreCheckoutQuery,
refundStarPayment.

Telegram Stars (``XTR``) take no provider token and exactly one price; every other currency
needs a provider token (test-mode ``...:TEST:...`` tokens are accepted, as are ``:LIVE:`` ones)
and must be one of Telegram's supported currencies (core.telegram.org/bots/payments, the list in
``currencies.json``). MTProto names (``CURRENCY_INVALID``, ``PAYMENT_PROVIDER_INVALID``) are
passed through as the real server does; the wording of the other invoice checks is the fake's
own. Shipping option wording is telegram-bot-api's (``Client.cpp``).
"""

from __future__ import annotations

import secrets
from typing import Any

from safe_polling.testing import _objects
from safe_polling.testing._core import Core
from safe_polling.testing._messages import chat_id_of, send_bot_message
from safe_polling.testing._params import (
    bad_request,
    get_bool,
    get_int,
    get_json,
    get_str,
    present,
    recordable,
)
from safe_polling.testing._state import BotState

__all__ = [
    "CURRENCIES",
    "QUERY_INVALID",
    "answer_pre_checkout_query",
    "answer_shipping_query",
    "create_invoice_link",
    "refund_star_payment",
    "send_invoice",
]

QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
# Telegram's supported currencies (ISO 4217) plus Telegram Stars.
CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ARS",
        "AUD",
        "AZN",
        "BAM",
        "BDT",
        "BGN",
        "BHD",
        "BND",
        "BOB",
        "BRL",
        "BYN",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CZK",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ETB",
        "EUR",
        "GBP",
        "GEL",
        "GHS",
        "GTQ",
        "HKD",
        "HNL",
        "HRK",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KRW",
        "KZT",
        "LBP",
        "LKR",
        "MAD",
        "MDL",
        "MMK",
        "MNT",
        "MOP",
        "MUR",
        "MVR",
        "MXN",
        "MYR",
        "MZN",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "PAB",
        "PEN",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SEK",
        "SGD",
        "SYP",
        "THB",
        "TJS",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VEF",
        "VND",
        "YER",
        "ZAR",
        "XTR",
    ]
)


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


def _invoice(params: dict[str, Any]) -> dict[str, Any]:
    """The Invoice of sendInvoice/createInvoiceLink, after the currency and provider rules."""
    title = _required(params, "title", 32)
    description = _required(params, "description", 255)
    _required(params, "payload", 128)
    currency = _required(params, "currency", 3)
    if currency not in CURRENCIES:
        raise bad_request("CURRENCY_INVALID")
    token = get_str(params, "provider_token")
    if currency == "XTR" and token:
        raise bad_request("provider_token must be empty for payments in Telegram Stars")
    if currency != "XTR" and not (":TEST:" in token or ":LIVE:" in token):
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    return {
        "title": title,
        "description": description,
        "start_parameter": get_str(params, "start_parameter"),
        "currency": currency,
        "total_amount": _total(params, currency),
    }


async def send_invoice(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``sendInvoice``."""
    chat_id_of(params)
    invoice = _invoice(params)
    return send_bot_message(core, state, "sendInvoice", params, invoice=invoice)


async def create_invoice_link(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``createInvoiceLink``: the same rules as sendInvoice; returns a t.me link."""
    _invoice(params)
    return f"https://t.me/$invoice{secrets.token_hex(6)}"


def _shipping_options(params: dict[str, Any]) -> list[Any]:
    if not present(params, "shipping_options"):
        raise bad_request('parameter "shipping_options" is required')
    options = get_json(params, "shipping_options", "shipping options")
    if not isinstance(options, list):
        raise bad_request("Expected an Array of shipping options")
    if not options:
        raise bad_request("There must be at least one shipping option")
    for option in options:
        if not isinstance(option, dict):
            raise bad_request("Can't parse shipping option: ShippingOption must be an Object")
        if not option.get("id"):
            raise bad_request(
                "Can't parse shipping option: ShippingOption identifier must be non-empty"
            )
        if not option.get("title"):
            raise bad_request(
                "Can't parse shipping option: ShippingOption title must be non-empty"
            )
    return options


async def answer_shipping_query(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``answerShippingQuery``: options when ``ok``, else an error_message; once per query."""
    if get_bool(params, "ok"):
        _shipping_options(params)
    elif not get_str(params, "error_message"):
        raise bad_request('parameter "error_message" is required')
    user_id = state.queries.take(
        "shipping", get_str(params, "shipping_query_id"), state.clock.now()
    )
    if user_id is None:
        raise bad_request(QUERY_INVALID)
    core.record_sent(state, "answerShippingQuery", user_id, recordable(params), None, True)
    return True


async def answer_pre_checkout_query(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``answerPreCheckoutQuery``: once per query; ``ok=false`` needs an error_message."""
    query_id = get_str(params, "pre_checkout_query_id")
    if not get_bool(params, "ok") and not get_str(params, "error_message"):
        raise bad_request('parameter "error_message" is required')
    user_id = state.queries.take("pre_checkout", query_id, state.clock.now())
    if user_id is None:
        raise bad_request(QUERY_INVALID)
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
    paid = next((t for t in state.star_transactions if t["id"] == charge_id), None)
    if paid is not None:
        state.star_balance -= paid["amount"]
        refund = {**paid, "date": _objects.now(), "receiver": paid["source"]}
        del refund["source"]
        state.star_transactions.append(refund)
    core.record_sent(state, "refundStarPayment", user_id, recordable(params), None, True)
    return True
