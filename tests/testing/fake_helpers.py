"""Helpers shared by the fake Bot API's own tests: bounded waits, background calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until true; fail (not hang) after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def api_call(
    http: httpx.AsyncClient, token: str, method: str, **params: Any
) -> asyncio.Task[httpx.Response]:
    """Start a JSON-body Bot API call in the background."""
    return asyncio.create_task(http.post(f"/bot{token}/{method}", json=params))
