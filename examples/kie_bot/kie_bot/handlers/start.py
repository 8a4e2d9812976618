"""/start, /balance, /help, /history, /cancel, the menu buttons and the fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from kie_bot.generations import usable_url
from kie_bot.handlers.common import Context, answer, lang_of, send_menu, services
from kie_bot.texts import t

__all__ = ["MAX_MESSAGE", "fit_message", "register"]

MAX_MESSAGE = 4096  # Telegram's limit for a message's text ("message is too long" above it)
# A longer result URL is not worth a line of /history: it would crowd out the others.
_MAX_HISTORY_URL = 1024


async def start(update: Update, context: Context) -> None:
    """Welcome, grant the free allowance once, show the balance and the menu."""
    user = update.effective_user
    if user is None:
        return
    svc = services(context)
    storage, _, _ = svc.ready()
    lang = lang_of(update)
    store = storage.store
    free = svc.settings.free_credits
    if free > 0:
        # Credit first (idempotent by key), then remember the user: a crash in between
        # cannot lose the bonus, and a replayed /start cannot double it.
        await store.add_user_balance_async(
            user.id, free, reason="welcome", idempotency_key=f"welcome:{user.id}"
        )
    is_new = await storage.add_user(user.id, lang)
    if context.user_data is not None:
        context.user_data.pop("draft", None)
    balance = await store.get_user_balance_async(user.id)
    text = t(lang, "welcome", name=user.first_name, balance=balance)
    if is_new and free > 0:
        text += "\n" + t(lang, "welcome_bonus", credits=free)
    await send_menu(update, context, text)


async def balance(update: Update, context: Context) -> None:
    """Show the balance with the menu."""
    await answer(update)
    user = update.effective_user
    if user is None:
        return
    storage, _, _ = services(context).ready()
    amount = await storage.store.get_user_balance_async(user.id)
    await send_menu(update, context, t(lang_of(update), "balance", balance=amount))


async def help_(update: Update, context: Context) -> None:
    """How it works."""
    await answer(update)
    await send_menu(update, context, t(lang_of(update), "help"))


async def history(update: Update, context: Context) -> None:
    """The last ten generations, with links to delivered results."""
    await answer(update)
    user = update.effective_user
    if user is None:
        return
    svc = services(context)
    storage, _, _ = svc.ready()
    lang = lang_of(update)
    rows = await storage.history(user.id, limit=10)
    if not rows:
        await send_menu(update, context, t(lang, "history_empty"))
        return
    lines = [t(lang, "history_header")]
    for gen in rows:
        model = svc.catalog.model(gen.model)
        date = datetime.fromtimestamp(gen.created_at / 1000, UTC).strftime("%d.%m %H:%M")
        state = t(lang, f"state_{gen.state.value}")
        lines.append(
            t(
                lang,
                "history_line",
                date=date,
                title=model.title if model else gen.model,
                state=state,
                price=gen.price,
            )
        )
        lines.extend(
            f"  {url}" if len(url) <= _MAX_HISTORY_URL else f"  {t(lang, 'history_long_link')}"
            for url in gen.result_urls
            if usable_url(url)  # KIE's answer is stored as it came: show only real links
        )
    await send_menu(update, context, fit_message(lines, t(lang, "history_more")))


def fit_message(lines: list[str], more: str, limit: int = MAX_MESSAGE) -> str:
    """Join *lines* into one message of at most *limit* characters.

    Whole lines are kept from the top; when the rest does not fit, *more* ends the
    message instead (a URL cut in half would be a broken link).

    .. versionadded:: 0.1.0
    """
    kept: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        # Room for this line, plus (unless it is the last) the "more" line after it.
        needed = size + _units(line) + (0 if last else 1 + _units(more))
        if needed > limit:
            kept.append(more)
            break
        kept.append(line)
        size += _units(line) + 1
    return "\n".join(kept)


def _units(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


async def cancel(update: Update, context: Context) -> None:
    """Drop the wizard's draft and show the menu."""
    await answer(update)
    if context.user_data is not None:
        context.user_data.pop("draft", None)
    await send_menu(update, context, t(lang_of(update), "cancelled"))


async def main_menu(update: Update, context: Context) -> None:
    """Back to the menu."""
    await answer(update)
    await send_menu(update, context)


async def unknown(update: Update, context: Context) -> None:
    """Anything unexpected gets the menu: the user is never left in silence."""
    await send_menu(update, context, t(lang_of(update), "unknown"))


async def stale_button(update: Update, context: Context) -> None:
    """A button this bot no longer knows: answer it and show the menu."""
    await answer(update, t(lang_of(update), "stale"))
    await send_menu(update, context)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the handlers of this module (the fallbacks go in a late group)."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("balance", balance))
    application.add_handler(CommandHandler("help", help_))
    application.add_handler(CommandHandler("history", history))
    application.add_handler(CommandHandler("cancel", cancel))
    application.add_handler(CallbackQueryHandler(main_menu, pattern=r"^menu:main$"))
    application.add_handler(CallbackQueryHandler(balance, pattern=r"^menu:balance$"))
    application.add_handler(CallbackQueryHandler(help_, pattern=r"^menu:help$"))
    application.add_handler(CallbackQueryHandler(history, pattern=r"^menu:history$"))
    application.add_handler(CallbackQueryHandler(cancel, pattern=r"^wiz:cancel$"))


def register_fallbacks(application: Application) -> None:  # type: ignore[type-arg]
    """Catch-alls: register them LAST in group 0, where the first matching handler wins."""
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(MessageHandler(filters.ALL & ~filters.SUCCESSFUL_PAYMENT, unknown))
