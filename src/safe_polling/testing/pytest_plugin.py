"""Pytest fixtures for bots tested against the fake Bot API.

Enable with ``pytest_plugins = ["safe_polling.testing.pytest_plugin"]`` in ``conftest.py``.
Both fixtures throttle 409 answers for only 0.2 s (instead of the real 3 s) to keep tests quick.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from safe_polling.testing._client import FakeBotAPIClient
from safe_polling.testing._process import spawn_fake_bot_api
from safe_polling.testing._server import FakeBotAPI

TEST_CONFLICT_DELAY = 0.2


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
