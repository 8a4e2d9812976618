"""The models wizard: group -> model -> its steps -> price screen.

A model's steps come from the catalog: its typed input (a prompt, or the text to speak),
then the variant (each with its price), the free option, then the files it needs (one or
several photos, a video, an audio file or voice message), in order. Files go from
Telegram to KIE's upload host, and the request carries their URLs; a file larger than a
bot may download from Telegram (20 MB) gets a clear message and nothing is charged.

The answers live in ``context.user_data["draft"]`` (memory only: losing an unconfirmed
draft on a restart costs nothing). The price screen gives the draft a generation id, so
*Confirm* pressed twice maps to one generation (see :mod:`kie_bot.handlers.generation`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from kie_bot.catalog import Model, Params
from kie_bot.handlers.common import (
    Context,
    answer,
    button,
    callback_arg,
    lang_of,
    send_menu,
    services,
)
from kie_bot.handlers.start import fit_message, unknown
from kie_bot.kie import KieError
from kie_bot.tasks import InputSpec
from kie_bot.texts import LANGUAGES, t

__all__ = ["MAX_DOWNLOAD", "MAX_PHOTOS", "MAX_PROMPT", "draft_params", "register", "steps"]

log = logging.getLogger(__name__)
MAX_PROMPT = 2000
# Bots may download files of at most 20 MB from Telegram (getFile); a larger one fails
# after the user waited, so it is refused up front, before anything is charged.
MAX_DOWNLOAD = 20 * 1024 * 1024
# Several photos (an edit with references): KIE's image models take a handful at most.
MAX_PHOTOS = 5
# What a file message carries, by the input kind it can fill.
_FILE_KINDS = {"photo": "photo", "photos": "photo", "video": "video", "audio": "audio"}
_SUFFIXES = {"photo": "jpg", "video": "mp4", "audio": "mp3", "voice": "ogg"}


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


def steps(model: Model) -> list[str]:
    """The wizard's steps for *model*: ``in:<i>`` per input, ``variant``, ``choice``.

    .. versionadded:: 0.1.0
    """
    typed = [f"in:{i}" for i, spec in enumerate(model.inputs) if not spec.is_file]
    files = [f"in:{i}" for i, spec in enumerate(model.inputs) if spec.is_file]
    asks = (["variant"] if len(model.variants) > 1 else []) + (["choice"] if model.choice else [])
    return typed + asks + files


def draft_params(draft: dict[str, Any]) -> Params:
    """The :class:`~kie_bot.catalog.Params` of a finished draft.

    .. versionadded:: 0.1.0
    """
    files = tuple((name, tuple(urls)) for name, urls in sorted(draft["files"].items()) if urls)
    return Params(draft.get("prompt") or "", draft.get("choice"), (), draft.get("variant"), files)


async def categories(update: Update, context: Context) -> None:
    """/models and the Generate button: pick a group."""
    await answer(update)
    lang = lang_of(update)
    groups = services(context).catalog.groups
    rows = [[button(t(lang, f"cat_{g}"), f"cat:{g}")] for g in groups]
    rows.append([button(t(lang, "btn_back"), "menu:main")])
    await _say(update, context, t(lang, "choose_category"), InlineKeyboardMarkup(rows))


async def models_of(update: Update, context: Context) -> None:
    """A group's models: a button each, and the price of every variant in the text."""
    await answer(update)
    category = callback_arg(update)
    lang = lang_of(update)
    models = services(context).catalog.in_category(category)
    rows = [[button(_model_button(lang, m), f"model:{m.id}")] for m in models]
    rows.append([button(t(lang, "btn_back"), "menu:generate")])
    lines = [t(lang, "choose_model")] + [_price_line(lang, m) for m in models]
    await _say(update, context, fit_message(lines, "…"), InlineKeyboardMarkup(rows))


def _model_button(lang: str, model: Model) -> str:
    key = "model_button" if len(model.variants) == 1 else "model_button_from"
    return t(lang, key, title=model.title, price=model.price)


def _price_line(lang: str, model: Model) -> str:
    """``Title: 14 cr`` or ``Title: 1K 14 · 2K 24 cr`` (every variant's price)."""
    if len(model.variants) == 1:
        prices = str(model.price)
    else:
        prices = " · ".join(f"{v.label} {v.price}" for v in model.variants)
    return t(lang, "price_line", title=model.title, prices=prices)


async def pick_model(update: Update, context: Context) -> None:
    """Start a draft for the chosen model and ask its first question."""
    model = services(context).catalog.model(callback_arg(update))
    if model is None or context.user_data is None:
        await answer(update, t(lang_of(update), "stale"))
        await send_menu(update, context)
        return
    await answer(update)
    context.user_data["draft"] = {"model": model.id, "step": "", "done": [], "files": {}}
    await _next_step(update, context, context.user_data["draft"])


def _current(context: Context) -> tuple[dict[str, Any], Model, str] | None:
    """The draft, its model and the step it waits for (:obj:`None` if no wizard runs)."""
    draft = _draft(context)
    model = _model(context, draft)
    if draft is None or model is None:
        return None
    return draft, model, str(draft.get("step") or "")


def _input(model: Model, step: str) -> InputSpec | None:
    """The input an ``in:<i>`` step collects (:obj:`None` for any other step)."""
    if not step.startswith("in:"):
        return None
    index = int(step[3:])
    return model.inputs[index] if index < len(model.inputs) else None


async def on_text(update: Update, context: Context) -> None:
    """The prompt (or text to speak), when the wizard waits for one; otherwise the menu."""
    current = _current(context)
    message = update.effective_message
    spec = None if current is None else _input(current[1], current[2])
    if current is None or spec is None or spec.is_file or message is None or not message.text:
        await unknown(update, context)
        return
    draft, _, step = current
    lang = lang_of(update)
    if len(message.text) > MAX_PROMPT:
        await _say(update, context, t(lang, "prompt_too_long", limit=MAX_PROMPT))
        return
    draft["prompt"] = message.text
    await _done(update, context, draft, step)


async def pick_variant(update: Update, context: Context) -> None:
    """A variant button (a resolution, a duration...: each with its own price)."""
    current = _current(context)
    if current is None or current[2] != "variant":
        await _stale(update, context)
        return
    draft, model, step = current
    await answer(update)
    draft["variant"] = int(callback_arg(update) or 0) % len(model.variants)
    await _done(update, context, draft, step)


async def pick_option(update: Update, context: Context) -> None:
    """A choice button (aspect ratio, vocals...)."""
    current = _current(context)
    if current is None or current[2] != "choice" or current[1].choice is None:
        await _stale(update, context)
        return
    draft, model, step = current
    assert model.choice is not None
    await answer(update)
    index = int(callback_arg(update) or 0)
    draft["choice"] = model.choice.values[index % len(model.choice.values)]
    await _done(update, context, draft, step)


async def on_file(update: Update, context: Context) -> None:
    """A photo, video, audio file or voice message for the input the wizard waits for.

    Telegram -> bytes -> KIE's upload host -> the URL for the request.
    """
    current = _current(context)
    message = update.effective_message
    spec = None if current is None else _input(current[1], current[2])
    sent = _attachment(message) if message is not None else None
    if current is None or spec is None or not spec.is_file or sent is None:
        await unknown(update, context)
        return
    draft, _, step = current
    lang = lang_of(update)
    kind, media, suffix = sent
    if _FILE_KINDS[spec.kind] != kind:
        await _say(update, context, t(lang, f"ask_{spec.kind}"))  # the wrong kind of file
        return
    size = getattr(media, "file_size", None)
    if size is not None and size > MAX_DOWNLOAD:
        await _say(update, context, t(lang, "file_too_large", limit=MAX_DOWNLOAD // 2**20))
        return
    _, kie, _ = services(context).ready()
    try:
        file = await media.get_file()
        content = bytes(await file.download_as_bytearray())
        url = await kie.upload_file(content, f"{media.file_unique_id}.{suffix}")
    except (TelegramError, KieError) as exc:
        log.warning("%s upload failed: %s", kind, exc)
        # Telegram's getFile answers "file is too big" when the size was not announced.
        key = "file_too_large" if "too big" in str(exc).lower() else "file_failed"
        await _say(update, context, t(lang, key, limit=MAX_DOWNLOAD // 2**20))
        return
    urls = draft["files"].setdefault(spec.field, [])
    urls.append(url)
    if spec.kind == "photos" and len(urls) < MAX_PHOTOS:
        rows = [[button(t(lang, "btn_done"), "in:done")], _cancel_row(lang)]
        text = t(lang, "photo_added", count=len(urls), limit=MAX_PHOTOS)
        await _say(update, context, text, InlineKeyboardMarkup(rows))
        return
    await _done(update, context, draft, step)


def _attachment(message: Message) -> tuple[str, Any, str] | None:
    """(input kind it can fill, the Telegram file object, file suffix) of a message."""
    if message.photo:
        return "photo", message.photo[-1], _SUFFIXES["photo"]  # the largest size
    for attribute, kind in (("video", "video"), ("audio", "audio"), ("voice", "audio")):
        media = getattr(message, attribute)
        if media is not None:
            return kind, media, _SUFFIXES[attribute]
    return None


async def skip_or_finish_input(update: Update, context: Context) -> None:
    """*Skip* an optional input, or *Done* after one or more photos."""
    current = _current(context)
    spec = None if current is None else _input(current[1], current[2])
    if current is None or spec is None or not spec.is_file:
        await _stale(update, context)
        return
    draft, _, step = current
    have = draft["files"].get(spec.field)
    finish = callback_arg(update) == "done"
    if (finish and not have) or (not finish and spec.required):
        await _stale(update, context)
        return
    await answer(update)
    await _done(update, context, draft, step)


async def _stale(update: Update, context: Context) -> None:
    await answer(update, t(lang_of(update), "stale"))
    await send_menu(update, context)


def _model(context: Context, draft: dict[str, Any] | None) -> Model | None:
    return None if draft is None else services(context).catalog.model(draft["model"])


async def _done(update: Update, context: Context, draft: dict[str, Any], step: str) -> None:
    if step not in draft["done"]:
        draft["done"].append(step)
    await _next_step(update, context, draft)


async def _next_step(update: Update, context: Context, draft: dict[str, Any]) -> None:
    model = _model(context, draft)
    if model is None:
        await send_menu(update, context)
        return
    lang = lang_of(update)
    pending = [s for s in steps(model) if s not in draft["done"]]
    if not pending:
        await _price_screen(update, context, draft, model)
        return
    step = draft["step"] = pending[0]
    rows: list[list[Any]] = []
    if step == "variant":
        labels = [t(lang, "variant_button", label=v.label, price=v.price) for v in model.variants]
        rows = [[button(label, f"var:{i}")] for i, label in enumerate(labels)]
        text = t(lang, "ask_variant")
    elif step == "choice":
        assert model.choice is not None
        labels = [_label(lang, v) for v in model.choice.values]
        rows = [[button(label, f"opt:{i}")] for i, label in enumerate(labels)]
        text = t(lang, "ask_choice")
    else:
        spec = _input(model, step)
        assert spec is not None  # steps() makes in:<i> only for inputs that exist
        text = t(lang, f"ask_{spec.kind}", title=model.title)
        if not spec.required:
            text = f"{text}\n{t(lang, 'optional_hint')}"
            rows = [[button(t(lang, "btn_skip"), "in:skip")]]
    rows.append(_cancel_row(lang))
    await _say(update, context, text, InlineKeyboardMarkup(rows))


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
    params = draft_params(draft)
    price = model.price_for(params)
    balance = await storage.store.get_user_balance_async(user.id)
    lines = [model.title]
    if len(model.variants) > 1:
        lines.append(t(lang, "summary_variant", label=model.variant(params.variant).label))
    if params.prompt:
        lines.append(t(lang, "summary_prompt", prompt=params.prompt[:500]))
    if params.choice is not None:
        lines.append(t(lang, "summary_option", choice=_label(lang, params.choice)))
    for spec in model.inputs:
        if spec.is_file:
            count = len(draft["files"].get(spec.field) or [])
            lines.append(t(lang, f"summary_{_FILE_KINDS[spec.kind]}", count=count))
    if model.extra:
        settings = ", ".join(f"{k}={v}" for k, v in sorted(model.extra.items()))
        lines.append(t(lang, "summary_defaults", settings=settings))
    lines.append(t(lang, "summary_price", price=price, balance=balance))
    markup = InlineKeyboardMarkup(
        [
            [button(t(lang, "btn_confirm", price=price), f"gen:go:{draft['gen_id']}")],
            _cancel_row(lang),
        ]
    )
    await _say(update, context, "\n".join(lines), markup)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the wizard's handlers."""
    application.add_handler(CommandHandler("models", categories))
    application.add_handler(CallbackQueryHandler(categories, pattern=r"^menu:generate$"))
    application.add_handler(CallbackQueryHandler(models_of, pattern=r"^cat:\w+$"))
    application.add_handler(CallbackQueryHandler(pick_model, pattern=r"^model:[\w.-]+$"))
    application.add_handler(CallbackQueryHandler(pick_variant, pattern=r"^var:\d+$"))
    application.add_handler(CallbackQueryHandler(pick_option, pattern=r"^opt:\d+$"))
    application.add_handler(
        CallbackQueryHandler(skip_or_finish_input, pattern=r"^in:(skip|done)$")
    )
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    files = filters.PHOTO | filters.VIDEO | filters.AUDIO | filters.VOICE
    application.add_handler(MessageHandler(files, on_file))
