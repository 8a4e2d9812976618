"""Shared bits of the handlers: the user's language, keyboards, the main menu.

Callback data is ``<area>:<action>[:<arg>]``, always under Telegram's 64-byte limit.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from kie_bot.catalog import Catalog
from kie_bot.services import Services, get_services
from kie_bot.texts import lang_for, t

__all__ = [
    "answer",
    "apologise",
    "button",
    "callback_arg",
    "lang_of",
    "menu_keyboard",
    "packages_keyboard",
    "send_menu",
    "services",
]

Context = ContextTypes.DEFAULT_TYPE


def services(context: Context) -> Services:
    """The bot's services."""
    return get_services(context)


def lang_of(update: Update) -> str:
    """``"ru"`` or ``"en"`` from the sender's Telegram language."""
    user = update.effective_user
    return lang_for(user.language_code if user else None)


def callback_arg(update: Update) -> str:
    """The part of the pressed button's data after the first ``:`` ("" if none)."""
    query = update.callback_query
    data = query.data if query is not None else None
    return (data or "").partition(":")[2]


def button(text: str, data: str) -> InlineKeyboardButton:
    """An inline button with callback data."""
    assert len(data.encode()) <= 64, data
    return InlineKeyboardButton(text, callback_data=data)


def menu_keyboard(lang: str) -> InlineKeyboardMarkup:
    """The main menu."""
    return InlineKeyboardMarkup(
        [
            [button(t(lang, "btn_generate"), "menu:generate")],
            [
                button(t(lang, "btn_balance"), "menu:balance"),
                button(t(lang, "btn_topup"), "menu:topup"),
            ],
            [
                button(t(lang, "btn_history"), "menu:history"),
                button(t(lang, "btn_help"), "menu:help"),
            ],
        ]
    )


def packages_keyboard(lang: str, catalog: Catalog) -> InlineKeyboardMarkup:
    """One button per Stars package, then Back."""
    rows = [
        [button(t(lang, "package_button", credits=p.credits, stars=p.stars), f"pay:{p.id}")]
        for p in catalog.packages
    ]
    rows.append([button(t(lang, "btn_back"), "menu:main")])
    return InlineKeyboardMarkup(rows)


async def answer(update: Update, text: str | None = None) -> None:
    """Answer the callback query, if any (every one must be answered, or the button spins)."""
    if update.callback_query is not None:
        await update.callback_query.answer(text)


async def apologise(update: object, context: Context) -> None:
    """Error handler: answer the button and say something went wrong (logging is separate)."""
    if not isinstance(update, Update):
        return
    lang = lang_of(update)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await send_menu(update, context, t(lang, "error_generic"))
    except TelegramError:
        pass  # Telegram itself is failing: the logging handler has the details


async def send_menu(update: Update, context: Context, text: str | None = None) -> None:
    """Send *text* (default: "What would you like to do?") with the main menu."""
    lang = lang_of(update)
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_message(
        chat.id, text or t(lang, "menu"), reply_markup=menu_keyboard(lang)
    )
