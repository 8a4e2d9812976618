"""*Confirm* on the price screen: charge once, launch once, answer every press."""

from __future__ import annotations

import uuid

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from kie_bot.generations import StartResult
from kie_bot.handlers.common import (
    Context,
    answer,
    button,
    callback_arg,
    lang_of,
    packages_keyboard,
    send_menu,
    services,
)
from kie_bot.handlers.models import draft_params
from kie_bot.storage import State
from kie_bot.texts import t

__all__ = ["register"]


async def confirm(update: Update, context: Context) -> None:
    """Start the generation whose id is in the button.

    The id was made when the price was shown, so a second press (or a press racing the
    first one with concurrent updates) hits the same primary key and is told it already
    runs: the user is charged once.
    """
    query = update.callback_query
    user = update.effective_user
    chat = update.effective_chat
    if query is None or user is None or chat is None:
        await answer(update)
        return
    gen_id = callback_arg(update).rpartition(":")[2]
    lang = lang_of(update)
    svc = services(context)
    storage, _, generations = svc.ready()
    draft = (context.user_data or {}).get("draft")
    if not isinstance(draft, dict) or draft.get("gen_id") != gen_id:
        known = await storage.get(gen_id)
        running = known is not None and known.state is not State.CANCELLED
        await answer(update, t(lang, "already_running" if running else "stale"))
        if not running:
            await send_menu(update, context)
        return
    model = svc.catalog.model(draft["model"])
    if model is None:
        await answer(update, t(lang, "stale"))
        await send_menu(update, context)
        return
    params = draft_params(draft)
    price = model.price_for(params)
    result, balance = await generations.start(
        gen_id, user_id=user.id, chat_id=chat.id, lang=lang, model=model, params=params
    )
    if result is StartResult.DUPLICATE:
        await answer(update, t(lang, "already_running"))
        return
    await answer(update)
    if result is StartResult.INSUFFICIENT:
        # Keep the draft under a new id (the old one is recorded as cancelled): after a
        # top-up the new Confirm button starts it without going through the wizard again.
        draft["gen_id"] = uuid.uuid4().hex
        rows = list(packages_keyboard(lang, svc.catalog).inline_keyboard[:-1])
        rows.append((button(t(lang, "btn_confirm", price=price), f"gen:go:{draft['gen_id']}"),))
        rows.append((button(t(lang, "btn_cancel"), "wiz:cancel"),))
        await context.bot.send_message(
            chat.id,
            t(lang, "not_enough", balance=balance, price=price),
            reply_markup=InlineKeyboardMarkup(rows),
        )
        return
    if context.user_data is not None:
        context.user_data.pop("draft", None)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the confirm handler."""
    application.add_handler(CallbackQueryHandler(confirm, pattern=r"^gen:go:[0-9a-f]{32}$"))
