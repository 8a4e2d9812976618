"""The models wizard: category -> model -> prompt -> option -> photo -> price screen.

The answers live in ``context.user_data["draft"]`` (memory only: losing an unconfirmed
draft on a restart costs nothing). The price screen gives the draft a generation id, so
*Confirm* pressed twice maps to one generation (see :mod:`kie_bot.handlers.generation`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from kie_bot.catalog import CATEGORIES, Model
from kie_bot.handlers.common import (
    Context,
    answer,
    button,
    callback_arg,
    lang_of,
    send_menu,
    services,
)
from kie_bot.handlers.start import unknown
from kie_bot.kie import KieError
from kie_bot.texts import LANGUAGES, t

__all__ = ["MAX_PROMPT", "register"]

log = logging.getLogger(__name__)
MAX_PROMPT = 2000


def _draft(context: Context) -> dict[str, Any] | None:
    if context.user_data is None:
        return None
    draft = context.user_data.get("draft")
    return draft if isinstance(draft, dict) else None


def _cancel_row(lang: str) -> list[Any]:
    return [button(t(lang, "btn_cancel"), "wiz:cancel")]


async def _say(update: Update, context: Context, text: str, markup: Any = None) -> None:
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, text, reply_markup=markup)


async def categories(update: Update, context: Context) -> None:
    """/models and the Generate button: pick a category."""
    await answer(update)
    lang = lang_of(update)
    rows = [[button(t(lang, f"cat_{c}"), f"cat:{c}")] for c in CATEGORIES]
    rows.append([button(t(lang, "btn_back"), "menu:main")])
    await _say(update, context, t(lang, "choose_category"), InlineKeyboardMarkup(rows))


async def models_of(update: Update, context: Context) -> None:
    """A category's models with their prices."""
    await answer(update)
    category = callback_arg(update)
    lang = lang_of(update)
    catalog = services(context).catalog
    rows = [
        [button(t(lang, "model_button", title=m.title, price=m.price), f"model:{m.id}")]
        for m in catalog.in_category(category)
    ]
    rows.append([button(t(lang, "btn_back"), "menu:generate")])
    await _say(update, context, t(lang, "choose_model"), InlineKeyboardMarkup(rows))


async def pick_model(update: Update, context: Context) -> None:
    """Start a draft for the chosen model and ask for the prompt."""
    model = services(context).catalog.model(callback_arg(update))
    if model is None or context.user_data is None:
        await answer(update, t(lang_of(update), "stale"))
        await send_menu(update, context)
        return
    await answer(update)
    context.user_data["draft"] = {"model": model.id, "step": "prompt", "image_urls": []}
    lang = lang_of(update)
    await _say(
        update,
        context,
        t(lang, "ask_prompt", title=model.title),
        InlineKeyboardMarkup([_cancel_row(lang)]),
    )


async def on_text(update: Update, context: Context) -> None:
    """The prompt, when the wizard waits for one; otherwise the menu."""
    draft = _draft(context)
    message = update.effective_message
    if draft is None or draft.get("step") != "prompt" or message is None or not message.text:
        await unknown(update, context)
        return
    lang = lang_of(update)
    if len(message.text) > MAX_PROMPT:
        await _say(update, context, t(lang, "prompt_too_long", limit=MAX_PROMPT))
        return
    draft["prompt"] = message.text
    await _next_step(update, context, draft)


async def pick_option(update: Update, context: Context) -> None:
    """A choice button (aspect ratio, vocals...)."""
    draft = _draft(context)
    model = _model(context, draft)
    index = int(callback_arg(update) or 0)
    if draft is None or model is None or model.choice is None or draft["step"] != "choice":
        await answer(update, t(lang_of(update), "stale"))
        await send_menu(update, context)
        return
    await answer(update)
    draft["choice"] = model.choice.values[index % len(model.choice.values)]
    await _next_step(update, context, draft)


async def on_photo(update: Update, context: Context) -> None:
    """The input photo: Telegram -> bytes -> KIE upload host -> URL for the request."""
    draft = _draft(context)
    message = update.effective_message
    if draft is None or draft.get("step") != "photo" or message is None or not message.photo:
        await unknown(update, context)
        return
    lang = lang_of(update)
    _, kie, _ = services(context).ready()
    photo = message.photo[-1]  # the largest size
    try:
        file = await photo.get_file()
        content = bytes(await file.download_as_bytearray())
        url = await kie.upload_file(content, f"{photo.file_unique_id}.jpg")
    except (TelegramError, KieError) as exc:
        log.warning("photo upload failed: %s", exc)
        await _say(update, context, t(lang, "photo_failed"))
        return
    draft["image_urls"] = [url]
    draft["photo_done"] = True
    await _next_step(update, context, draft)


async def skip_photo(update: Update, context: Context) -> None:
    """Skip an optional photo."""
    draft = _draft(context)
    model = _model(context, draft)
    if draft is None or model is None or model.image is None or model.image.mode != "optional":
        await answer(update, t(lang_of(update), "stale"))
        await send_menu(update, context)
        return
    await answer(update)
    draft["photo_done"] = True
    await _next_step(update, context, draft)


def _model(context: Context, draft: dict[str, Any] | None) -> Model | None:
    return None if draft is None else services(context).catalog.model(draft["model"])


async def _next_step(update: Update, context: Context, draft: dict[str, Any]) -> None:
    model = _model(context, draft)
    if model is None:
        await send_menu(update, context)
        return
    lang = lang_of(update)
    if model.choice is not None and "choice" not in draft:
        draft["step"] = "choice"
        labels = [_label(lang, v) for v in model.choice.values]
        rows = [[button(label, f"opt:{i}")] for i, label in enumerate(labels)]
        rows.append(_cancel_row(lang))
        await _say(update, context, t(lang, "ask_choice"), InlineKeyboardMarkup(rows))
        return
    if model.image is not None and not draft.get("photo_done"):
        draft["step"] = "photo"
        rows = [_cancel_row(lang)]
        key = "ask_photo_required"
        if model.image.mode == "optional":
            key = "ask_photo_optional"
            rows.insert(0, [button(t(lang, "btn_skip"), "photo:skip")])
        await _say(update, context, t(lang, key), InlineKeyboardMarkup(rows))
        return
    await _price_screen(update, context, draft, model)


def _label(lang: str, value: str) -> str:
    key = f"choice_{value}"
    return t(lang, key) if key in LANGUAGES["en"] else value


async def _price_screen(
    update: Update, context: Context, draft: dict[str, Any], model: Model
) -> None:
    user = update.effective_user
    storage, _, _ = services(context).ready()
    assert user is not None
    lang = lang_of(update)
    draft["step"] = "confirm"
    draft["gen_id"] = uuid.uuid4().hex
    balance = await storage.store.get_user_balance_async(user.id)
    text = t(
        lang,
        "summary",
        title=model.title,
        prompt=draft["prompt"],
        choice=_label(lang, draft.get("choice") or "-"),
        photo=t(lang, "yes") if draft["image_urls"] else t(lang, "no"),
        price=model.price,
        balance=balance,
    )
    markup = InlineKeyboardMarkup(
        [
            [button(t(lang, "btn_confirm", price=model.price), f"gen:go:{draft['gen_id']}")],
            _cancel_row(lang),
        ]
    )
    await _say(update, context, text, markup)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the wizard's handlers."""
    application.add_handler(CommandHandler("models", categories))
    application.add_handler(CallbackQueryHandler(categories, pattern=r"^menu:generate$"))
    application.add_handler(CallbackQueryHandler(models_of, pattern=r"^cat:\w+$"))
    application.add_handler(CallbackQueryHandler(pick_model, pattern=r"^model:[\w.-]+$"))
    application.add_handler(CallbackQueryHandler(pick_option, pattern=r"^opt:\d+$"))
    application.add_handler(CallbackQueryHandler(skip_photo, pattern=r"^photo:skip$"))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(MessageHandler(filters.PHOTO, on_photo))
