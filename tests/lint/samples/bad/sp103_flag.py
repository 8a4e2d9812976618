"""SP103: the seed's hand-rolled guard: a global flag cannot see another process."""

from telegram.ext import Application

_POLLING_STARTED = False


async def safe_start_polling(application: Application) -> None:
    global _POLLING_STARTED  # expect: SP103
    if _POLLING_STARTED:
        return
    _POLLING_STARTED = True
    await application.bot.delete_webhook(drop_pending_updates=True)
    await application.initialize()
    await application.start()
    await application.updater.start_polling()
