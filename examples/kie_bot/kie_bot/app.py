"""Build the PTB application from :class:`kie_bot.config.Settings`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, ApplicationBuilder

from kie_bot.catalog import Catalog, load_catalog
from kie_bot.config import Settings
from kie_bot.handlers import register_all
from kie_bot.handlers.common import apologise
from kie_bot.services import Services, install, on_shutdown, on_start, on_stop
from safe_polling import install_redaction, logging_error_handler

__all__ = ["build_application"]


def build_application(
    settings: Settings, *, catalog: Catalog | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Return the bot, ready for :func:`safe_polling.run_polling`.

    Args:
        settings (:class:`kie_bot.config.Settings`): From :func:`kie_bot.config.load_settings`.
        catalog (:class:`kie_bot.catalog.Catalog`, optional): Defaults to ``catalog.yaml``
            priced with ``settings.price_markup``.

    Raises:
        kie_bot.catalog.CatalogError: ``catalog.yaml`` has a bad entry (named).

    .. versionadded:: 0.1.0
    """
    # run_polling masks the bot token in every log line; the KIE key is ours to register.
    install_redaction(settings.bot_token, settings.kie_api_key)
    builder = (
        ApplicationBuilder()
        .token(settings.bot_token)
        # Several users at once: a slow handler (a photo upload) must not hold up others.
        # Double presses are safe: the generation id is a primary key.
        .concurrent_updates(True)
        .media_write_timeout(120.0)
        .post_init(on_start)
        .post_stop(on_stop)
        .post_shutdown(on_shutdown)
    )
    if settings.telegram_base_url:
        builder = builder.base_url(settings.telegram_base_url)
    if settings.telegram_base_file_url:
        builder = builder.base_file_url(settings.telegram_base_file_url)
    application = builder.build()
    install(
        application,
        Services(
            settings, catalog or load_catalog(settings.catalog_path, markup=settings.price_markup)
        ),
    )
    register_all(application)
    application.add_error_handler(logging_error_handler)
    application.add_error_handler(apologise)
    return application
