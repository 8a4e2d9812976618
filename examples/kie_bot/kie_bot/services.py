"""The bot's long-lived objects and their lifecycle (PTB ``post_init`` / ``post_stop``).

``safe_polling.run_polling`` calls ``post_init`` once this instance handles updates: when
it becomes the poller (and again after a lost lease is won back), or, scaled out with
``SAFE_POLLING_QUEUE``, at start in every replica; ``post_stop`` when it stops;
``post_shutdown`` once at exit. Opening is therefore idempotent. ``post_init`` resumes
unfinished generations, and each generation's claim in the database keeps it with one
worker however many replicas resume (see :mod:`kie_bot.generations`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from kie_bot.catalog import Catalog
from kie_bot.config import Settings
from kie_bot.delivery import TelegramMessenger
from kie_bot.downloads import DownloadPolicy
from kie_bot.generations import GenerationService, PollSettings
from kie_bot.kie import KieClient
from kie_bot.storage import Storage
from kie_bot.texts import t
from safe_polling.db import BalanceStore, open_balance_store

__all__ = ["Services", "get_services", "on_shutdown", "on_start", "on_stop"]

log = logging.getLogger(__name__)
_KEY = "kie_bot.services"

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@dataclass
class Services:
    """Everything handlers need; stored in ``application.bot_data``.

    .. versionadded:: 0.1.0
    """

    settings: Settings
    catalog: Catalog
    store: BalanceStore | None = None
    storage: Storage | None = None
    kie: KieClient | None = None
    http: httpx.AsyncClient | None = None
    generations: GenerationService | None = None

    def ready(self) -> tuple[Storage, KieClient, GenerationService]:
        """Return the opened parts (raises if ``post_init`` has not run)."""
        if self.storage is None or self.kie is None or self.generations is None:
            raise RuntimeError("the bot's services are not open yet (post_init has not run)")
        return self.storage, self.kie, self.generations


def install(application: AnyApplication, services: Services) -> None:
    """Attach *services* to *application*.

    .. versionadded:: 0.1.0
    """
    application.bot_data[_KEY] = services


def get_services(context: ContextTypes.DEFAULT_TYPE | AnyApplication) -> Services:
    """Return the :class:`Services` of a handler's context or an application.

    .. versionadded:: 0.1.0
    """
    services = context.bot_data[_KEY]
    assert isinstance(services, Services)
    return services


async def on_start(application: AnyApplication) -> None:
    """``post_init``: open the database and KIE client, then resume unfinished work.

    .. versionadded:: 0.1.0
    """
    services = get_services(application)
    settings = services.settings
    if services.store is None:
        store = await open_balance_store(settings.database_url)
        storage = Storage(store)
        await storage.migrate()
        services.store, services.storage = store, storage
        services.kie = KieClient(
            settings.kie_api_key,
            api_url=settings.kie_api_url,
            upload_url=settings.kie_upload_url,
            backoff=settings.kie_backoff,
        )
        # Redirects are followed by kie_bot.downloads, which checks each hop; no proxy from
        # the environment, so the address checked is the address connected to.
        services.http = httpx.AsyncClient(timeout=60.0, follow_redirects=False, trust_env=False)
    assert services.storage is not None
    assert services.kie is not None
    assert services.http is not None
    # A fresh service each time: the previous one (if any) was shut down in post_stop.
    policy = DownloadPolicy(
        max_bytes=settings.max_upload_bytes,
        timeout=settings.download_timeout,
        trusted_origins=settings.result_trusted_origins,
    )
    messenger = TelegramMessenger(application.bot, services.http, policy)
    poll = PollSettings(
        interval=settings.poll_interval,
        max_interval=max(settings.poll_interval, settings.poll_max_interval),
        timeout=settings.task_timeout,
        callback_url=settings.kie_callback_url,
    )
    services.generations = GenerationService(
        services.storage, services.kie, services.catalog, messenger, poll
    )
    await services.generations.resume()
    await _set_commands(application)


async def _set_commands(application: AnyApplication) -> None:
    """Show the commands in Telegram's menu, in both languages (best effort)."""
    names = ("start", "models", "balance", "topup", "history", "help", "cancel")
    for lang in ("en", "ru"):
        commands = [BotCommand(name, t(lang, f"cmd_{name}")) for name in names]
        try:
            await application.bot.set_my_commands(
                commands, language_code=None if lang == "en" else lang
            )
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", exc)


async def on_stop(application: AnyApplication) -> None:
    """``post_stop``: cancel polling of KIE tasks and release them to the other workers.

    .. versionadded:: 0.1.0
    """
    generations = get_services(application).generations
    if generations is not None:
        await generations.shutdown()


async def on_shutdown(application: AnyApplication) -> None:
    """``post_shutdown``: close the KIE client, the HTTP client and the database.

    .. versionadded:: 0.1.0
    """
    services = get_services(application)
    await on_stop(application)
    if services.kie is not None:
        await services.kie.aclose()
    if services.http is not None:
        await services.http.aclose()
    if services.store is not None:
        await services.store.aclose()
    services.store = services.storage = None
    services.kie = services.http = None
    services.generations = None
