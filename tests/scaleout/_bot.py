"""A bot for the scale-out tests, run as real replica processes sharing a queue.

Each text message ``<chat>#<seq>`` is one step of that chat's sequence. In
group 0 a persistent ConversationHandler (``steps``, in :class:`DatabasePersistence`)
moves from state *seq* to *seq + 1* only on the message ``#<seq>``: a state that
did not follow the chat to another worker stops it for good. In group 1 the
handler appends a row to ``scale_runs`` when it starts (not idempotent: it shows
re-handling and the order handlers started in), burns ``BOT_CPU_MS`` of pure
Python, credits the chat one unit keyed by the update (the effect, idempotent)
and replies ``done <text>``.

Environment: TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL, DATABASE_URL,
SAFE_POLLING_QUEUE, SAFE_POLLING_LEASE (and its variables), BOT_CPU_MS.
"""

from __future__ import annotations

import os
import time

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PersistenceInput,
    filters,
)

from safe_polling import (
    DatabasePersistence,
    PerChatUpdateProcessor,
    logging_error_handler,
    run_polling,
)
from safe_polling.db import BalanceStore, open_balance_store

STORE: BalanceStore | None = None
CPU_SECONDS = float(os.environ.get("BOT_CPU_MS", "0")) / 1000
STEPS = 100  # conversation states 0..STEPS: enough for every test's sequence


async def step(update: Update, _: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    return int((update.message.text or "").rsplit("#", 1)[1]) + 1


def conversation() -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    """State n accepts only the message ``#n`` and moves to n + 1."""
    return ConversationHandler(
        entry_points=[MessageHandler(filters.Regex(r"#0$"), step)],
        states={n: [MessageHandler(filters.Regex(rf"#{n}$"), step)] for n in range(1, STEPS)},
        fallbacks=[],
        name="steps",
        persistent=True,
    )


def burn(seconds: float) -> None:
    """Pure-Python work for *seconds* (holds the GIL, like image or receipt processing)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1


async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    assert update.effective_chat is not None
    assert STORE is not None
    text = update.message.text or ""
    seq = int(text.rsplit("#", 1)[1]) if "#" in text else -1
    await STORE.execute(
        "INSERT INTO scale_runs (chat, seq, update_id, pid) VALUES ($1, $2, $3, $4)",
        update.effective_chat.id,
        seq,
        update.update_id,
        os.getpid(),
    )
    burn(CPU_SECONDS)
    await STORE.add_user_balance_async(
        update.effective_chat.id, 1, reason="update", idempotency_key=f"u:{update.update_id}"
    )
    await update.message.reply_text(f"done {text}")


def dump_tasks() -> None:
    """SIGUSR1: print every asyncio task's stack (to see a stuck replica)."""
    import asyncio
    import sys

    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stdout)
    sys.stdout.flush()


async def post_init(application: Application) -> None:  # type: ignore[type-arg]
    import asyncio
    import signal

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
    global STORE
    STORE = await open_balance_store(os.environ["DATABASE_URL"])
    await STORE.apply_migrations(
        "scaleout_tests",
        [
            "CREATE TABLE IF NOT EXISTS scale_runs (id BIGSERIAL PRIMARY KEY, chat BIGINT,"
            " seq INT, update_id BIGINT, pid INT)"
        ],
    )


async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    if STORE is not None:
        await STORE.aclose()


def main() -> None:
    token = os.environ["TELEGRAM_BOT_TOKEN"]
    persistence = DatabasePersistence(
        os.environ["DATABASE_URL"],
        bot_id=token,
        # Only the conversation: the states are what the tests check, and each kind kept
        # costs a read before and a write after every update.
        store_data=PersistenceInput(
            user_data=False, chat_data=False, bot_data=False, callback_data=False
        ),
    )
    application = (
        ApplicationBuilder()
        .token(token)
        .persistence(persistence)
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .concurrent_updates(PerChatUpdateProcessor(8))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.add_handler(conversation())
    application.add_handler(MessageHandler(filters.TEXT, handle), group=1)
    application.add_error_handler(logging_error_handler)
    run_polling(application, preflight=False, timeout=1, shutdown_timeout=20)


if __name__ == "__main__":
    main()
