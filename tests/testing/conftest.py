"""Fixtures for the fake Bot API's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from safe_polling.testing import FakeBotAPI


@pytest_asyncio.fixture
async def http(fake_bot_api: FakeBotAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client rooted at the fake (timeouts well above any long poll used)."""
    async with httpx.AsyncClient(base_url=fake_bot_api.url, timeout=30.0) as client:
        yield client
