"""Pytest fixtures for bots tested against the fake Bot API.

Enable with ``pytest_plugins = ["safe_polling.testing.pytest_plugin"]`` in ``conftest.py``.
Every fixture is fresh for each test. The fakes throttle 409 answers for only 0.2 s (instead of
the real 3 s) to keep tests quick.

Example:
    .. code-block:: python

        async def test_start_replies(fake_bot_api, start_bot):
            app = fake_bot_api.application_builder().build()
            app.add_handler(CommandHandler("start", start))
            await start_bot(app)
            mark = fake_bot_api.mark()
            fake_bot_api.inject_message(42, "/start")
            await fake_bot_api.wait_for_text(42, "Welcome", after=mark)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from safe_polling.testing._client import FakeBotAPIClient
from safe_polling.testing._process import spawn_fake_bot_api
from safe_polling.testing._server import FakeBotAPI

__all__ = ["fake_bot_api", "fake_bot_api_process", "start_bot"]

TEST_CONFLICT_DELAY = 0.2
StartBot = Callable[..., Awaitable[Any]]


@pytest_asyncio.fixture
async def fake_bot_api() -> AsyncIterator[FakeBotAPI]:
    """An in-process :class:`FakeBotAPI` on a free port, fresh for each test."""
    async with FakeBotAPI(conflict_delay=TEST_CONFLICT_DELAY) as api:
        yield api


@pytest_asyncio.fixture
async def fake_bot_api_process() -> AsyncIterator[FakeBotAPIClient]:
    """A fake Bot API in its own process (for multi-process tests), as a connected client."""
    async with spawn_fake_bot_api(conflict_delay=TEST_CONFLICT_DELAY) as client:
        yield client


@pytest_asyncio.fixture
async def start_bot() -> AsyncIterator[StartBot]:
    """Start the bot under test: ``await start_bot(app, **start_polling_kwargs)``.

    ``app`` is a PTB ``Application`` built from :meth:`FakeBotAPI.application_builder`; it is
    initialized, started and polls (``allowed_updates`` defaults to every update type) until
    the test ends, when it is stopped and shut down, even if the test failed.
    """
    from telegram import Update

    started: list[Any] = []

    async def start(app: Any, **polling: Any) -> Any:
        polling.setdefault("allowed_updates", Update.ALL_TYPES)
        polling.setdefault("timeout", 1)
        await app.initialize()
        started.append(app)
        await app.start()
        await app.updater.start_polling(**polling)
        return app

    yield start
    for app in reversed(started):
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
