"""Top-up with Telegram Stars: invoice, pre-checkout, credit exactly once.

The invoice payload is ``topup:<package>:<credits>``. The pre-checkout query is answered
at once (Telegram allows 10 s) after checking the payload against the catalog; the credit
is keyed by ``telegram_payment_charge_id``, so a redelivered payment update credits once.
"""

from __future__ import annotations

import logging

from telegram import LabeledPrice, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from kie_bot.catalog import Catalog, Package
from kie_bot.handlers.common import (
    Context,
    answer,
    callback_arg,
    lang_of,
    packages_keyboard,
    services,
)
from kie_bot.texts import t

__all__ = ["parse_payload", "register"]

log = logging.getLogger(__name__)
CURRENCY = "XTR"
UNMATCHED = "-"  # the package recorded for a payment that matched none


def parse_payload(payload: str, catalog: Catalog) -> Package | None:
    """Return the package an invoice payload names, if it still matches the catalog.

    Never raises: any text that is not exactly ``topup:<package>:<credits>`` of a package
    on sale gives :obj:`None`.

    .. versionadded:: 0.1.0
    """
    parts = payload.split(":")
    if len(parts) != 3 or parts[0] != "topup":
        return None
    package = catalog.package(parts[1])
    if package is None or str(package.credits) != parts[2]:
        return None
    return package


async def topup(update: Update, context: Context) -> None:
    """The packages."""
    await answer(update)
    chat = update.effective_chat
    if chat is None:
        return
    lang = lang_of(update)
    await context.bot.send_message(
        chat.id,
        t(lang, "topup_choose"),
        reply_markup=packages_keyboard(lang, services(context).catalog),
    )


async def send_invoice(update: Update, context: Context) -> None:
    """An XTR invoice with exactly one price and no provider token."""
    chat = update.effective_chat
    package = services(context).catalog.package(callback_arg(update))
    lang = lang_of(update)
    if package is None or chat is None:
        await answer(update, t(lang, "stale"))
        return
    await answer(update)
    await context.bot.send_invoice(
        chat.id,
        title=t(lang, "invoice_title", credits=package.credits),
        description=t(lang, "invoice_description", credits=package.credits),
        payload=f"topup:{package.id}:{package.credits}",
        currency=CURRENCY,
        prices=[LabeledPrice(t(lang, "invoice_label", credits=package.credits), package.stars)],
    )


async def pre_checkout(update: Update, context: Context) -> None:
    """Answer at once: ok only for a known package at its current price in Stars."""
    query = update.pre_checkout_query
    assert query is not None
    package = parse_payload(query.invoice_payload, services(context).catalog)
    if package is None or query.currency != CURRENCY or query.total_amount != package.stars:
        await query.answer(ok=False, error_message=t(lang_of(update), "precheckout_invalid"))
        return
    await query.answer(ok=True)


async def successful_payment(update: Update, context: Context) -> None:
    """Credit what the catalog sells for the amount paid, once per ``telegram_payment_charge_id``.

    The payload is only a pointer to a package: the credits come from the catalog, and
    only when the currency and ``total_amount`` are what that package costs. Anything else
    (a package gone or repriced since the invoice, a forged payload) is not credited: it is
    logged and reported to the admins, who can refund the Stars with /refund.
    """
    message = update.effective_message
    user = update.effective_user
    if message is None or message.successful_payment is None or user is None:
        return
    payment = message.successful_payment
    svc = services(context)
    storage, _, _ = svc.ready()
    charge_id = payment.telegram_payment_charge_id
    package = parse_payload(payment.invoice_payload, svc.catalog)
    if package is None or payment.currency != CURRENCY or payment.total_amount != package.stars:
        # Recorded with no credits, so an admin can give the Stars back with /refund.
        first = await storage.record_payment(
            charge_id, user_id=user.id, package=UNMATCHED, stars=payment.total_amount, credits=0
        )
        if first:
            await _report_unmatched(context, user.id, charge_id, payment.total_amount)
        return
    # Credit first (idempotent by key), then record: a crash in between loses nothing.
    balance = await storage.store.add_user_balance_async(
        user.id,
        package.credits,
        reason=f"stars {package.id}",
        idempotency_key=f"stars:{charge_id}",
    )
    first = await storage.record_payment(
        charge_id,
        user_id=user.id,
        package=package.id,
        stars=payment.total_amount,
        credits=package.credits,
    )
    if first:
        await message.reply_text(
            t(lang_of(update), "payment_ok", credits=package.credits, balance=balance)
        )


async def _report_unmatched(context: Context, user_id: int, charge_id: str, amount: int) -> None:
    """Log a payment that matches nothing on sale and tell every admin (best effort)."""
    # Money arrived for something this bot does not sell (at that price): say so loudly.
    log.error(
        "💸 payment %s from user %s (%d) matches no package on sale; not credited",
        charge_id,
        user_id,
        amount,
    )
    text = t("en", "admin_payment_unmatched", charge=charge_id, user=user_id, amount=amount)
    for admin in sorted(services(context).settings.admin_ids):
        try:
            await context.bot.send_message(admin, text)
        except TelegramError as exc:  # an admin who never started the bot; the log has it
            log.warning("could not tell admin %s about payment %s: %s", admin, charge_id, exc)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the payment handlers."""
    application.add_handler(CommandHandler("topup", topup))
    application.add_handler(CallbackQueryHandler(topup, pattern=r"^menu:topup$"))
    application.add_handler(CallbackQueryHandler(send_invoice, pattern=r"^pay:[\w-]+$"))
    application.add_handler(PreCheckoutQueryHandler(pre_checkout))
    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, successful_payment))
