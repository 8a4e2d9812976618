"""Admin commands (``ADMIN_IDS`` only): /grant, /stats, /refund.

For anyone else these commands do not exist: they get the menu, like any unknown input.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from kie_bot.handlers.common import Context, lang_of, services
from kie_bot.handlers.start import unknown
from kie_bot.kie import KieError
from kie_bot.texts import t
from safe_polling.db import InsufficientFunds

__all__ = ["register"]

log = logging.getLogger(__name__)


def _is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in services(context).settings.admin_ids


# A grant past this is a typo (and past int64 the store refuses it with an error).
_MAX_GRANT = 10**9


def _ints(args: list[str] | None, count: int) -> list[int] | None:
    """*count* positive whole numbers, or :obj:`None`.

    ASCII digits only: ``str.isdigit`` also accepts "²", which ``int()`` then refuses.
    """
    if not args or len(args) != count or not all(a.isascii() and a.isdigit() for a in args):
        return None
    return [int(a) for a in args]


async def _reply(update: Update, text: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def grant(update: Update, context: Context) -> None:
    """/grant <user_id> <credits>: idempotent per command message (a redelivery grants once)."""
    if not _is_admin(update, context):
        await unknown(update, context)
        return
    lang = lang_of(update)
    values = _ints(context.args, 2)
    message = update.effective_message
    if values is None or not 0 < values[1] <= _MAX_GRANT or message is None:
        await _reply(update, t(lang, "admin_grant_usage"))
        return
    user_id, credits = values
    storage, _, _ = services(context).ready()
    balance = await storage.store.add_user_balance_async(
        user_id,
        credits,
        reason=f"grant by {message.chat_id}",
        idempotency_key=f"grant:{message.chat_id}:{message.message_id}",
    )
    await _reply(update, t(lang, "admin_grant_ok", credits=credits, user=user_id, balance=balance))


async def stats(update: Update, context: Context) -> None:
    """/stats: users, generations by outcome, Stars, the KIE account's credits."""
    if not _is_admin(update, context):
        await unknown(update, context)
        return
    storage, kie, _ = services(context).ready()
    counts = await storage.stats()
    try:
        kie_credits: object = await kie.get_credits()
    except KieError as exc:
        kie_credits = f"? ({exc.code})"
    await _reply(update, t(lang_of(update), "admin_stats", kie_credits=kie_credits, **counts))


async def refund(update: Update, context: Context) -> None:
    """/refund <user_id> <charge_id>: give the Stars back and take the credits back.

    The payment is claimed first (conditional update), so two admins cannot refund it
    twice; the balance is checked before Telegram is asked, and the debit is keyed by the
    charge id.
    """
    if not _is_admin(update, context):
        await unknown(update, context)
        return
    lang = lang_of(update)
    args = context.args or []
    if len(args) != 2 or _ints(args[:1], 1) is None:
        await _reply(update, t(lang, "admin_refund_usage"))
        return
    user_id, charge_id = int(args[0]), args[1]
    storage, _, _ = services(context).ready()
    payment = await storage.payment(charge_id)
    if payment is None or payment.user_id != user_id:
        await _reply(update, t(lang, "admin_refund_unknown"))
        return
    if not await storage.mark_refunded(charge_id):
        await _reply(update, t(lang, "admin_refund_done_before"))
        return
    balance = await storage.store.get_user_balance_async(user_id)
    if balance < payment.credits:
        await storage.unmark_refunded(charge_id)
        await _reply(
            update, t(lang, "admin_refund_insufficient", balance=balance, credits=payment.credits)
        )
        return
    try:
        await context.bot.refund_star_payment(user_id, charge_id)
    except TelegramError as exc:
        await storage.unmark_refunded(charge_id)
        await _reply(update, t(lang, "admin_refund_failed", error=exc.message))
        return
    try:
        if payment.credits:  # a payment that matched no package credited nothing
            await storage.store.subtract_user_balance_async(
                user_id,
                payment.credits,
                reason="stars refund",
                idempotency_key=f"unstars:{charge_id}",
            )
    except InsufficientFunds:
        # Spent between the check and now: the Stars are back already; log for the operator.
        log.error("refunded payment %s but the user's credits were spent meanwhile", charge_id)
    await _reply(
        update,
        t(lang, "admin_refund_ok", stars=payment.stars, user=user_id, credits=payment.credits),
    )
    try:
        await context.bot.send_message(
            user_id, t(lang, "user_refund_notice", stars=payment.stars, credits=payment.credits)
        )
    except TelegramError as exc:  # the user may have blocked the bot; the refund stands
        log.info("could not tell user %s about the refund: %s", user_id, exc)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the admin commands."""
    application.add_handler(CommandHandler("grant", grant))
    application.add_handler(CommandHandler("stats", stats))
    application.add_handler(CommandHandler("refund", refund))
