"""Fixtures of the reference bot's tests: the example on sys.path, the fake KIE server."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kie_bot"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

from kie_bot.kie import KieClient  # noqa: E402
from kie_bot.kie.fake_server import FakeKie  # noqa: E402


@pytest.fixture
async def fake_kie() -> AsyncIterator[FakeKie]:
    """The fake KIE server on two 127.0.0.1 ports."""
    async with FakeKie() as kie:
        yield kie


@pytest.fixture
async def kie_client(fake_kie: FakeKie) -> AsyncIterator[KieClient]:
    """A client pointed at the fake, with tiny backoff so retries are quick."""
    client = KieClient(
        fake_kie.api_key,
        api_url=fake_kie.api_url,
        upload_url=fake_kie.upload_url,
        timeout=5.0,
        backoff=0.01,
    )
    async with client:
        yield client
