"""The bot's handlers, registered in the order PTB needs (catch-alls last)."""

from __future__ import annotations

from telegram.ext import Application

from kie_bot.handlers import admin, generation, models, payments, start

__all__ = ["register_all"]


def register_all(application: Application) -> None:  # type: ignore[type-arg]
    """Register every handler; the fallbacks that answer unknown input come last."""
    start.register(application)
    admin.register(application)
    payments.register(application)
    generation.register(application)
    models.register(application)
    start.register_fallbacks(application)
