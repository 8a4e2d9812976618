"""Fixtures for the fake Bot API's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from safe_polling.testing import FakeBotAPI

KNOWN_USERS = (1, 5, 7, 42)


@pytest_asyncio.fixture
async def http(fake_bot_api: FakeBotAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client rooted at the fake (timeouts well above any long poll used).

    Users 1, 5, 7 and 42 have written to the bot, so their private chats exist.
    """
    for user_id in KNOWN_USERS:
        fake_bot_api.add_user(user_id)
    async with httpx.AsyncClient(base_url=fake_bot_api.url, timeout=30.0) as client:
        yield client
