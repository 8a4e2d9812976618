"""Stopping a background task without swallowing the caller's own cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel *task* and wait until it has ended; raise what it failed with, if anything.

    ``task.cancel()`` then ``with suppress(CancelledError): await task`` also swallows a
    cancellation of the caller that arrives while it waits: a shutdown cut short by its
    budget would go on as if nothing happened. Here the caller's cancellation propagates.
    """
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.result()  # its own error, or nothing if it ended before the cancel took
