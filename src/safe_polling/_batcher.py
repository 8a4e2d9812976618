"""Natural batching: one call for everything submitted while the previous call ran.

Warning:
    Internal: used by the scale-out worker for its delivery-record reads and writes, and by
    the Redis queue for its acknowledgements.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Batcher"]

_T = TypeVar("_T")
_R = TypeVar("_R")


class Batcher(Generic[_T, _R]):
    """Calls *run* with every item submitted while its previous call was in flight.

    No timer: an idle batcher calls at once (no added latency); a busy one
    gathers what arrives meanwhile into the next call. A CPU-bound handler holds
    the event loop for its whole run, so one round trip per update would wait
    for another handler each time; one per batch does not
    (``benchmarks/scaleout_bench.py``).
    """

    def __init__(self, run: Callable[[list[_T]], Awaitable[list[_R]]]) -> None:
        self._run = run
        self._waiting: list[tuple[_T, asyncio.Future[_R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: _T) -> _R:
        """The result of *item*; raises what the batch's call raised."""
        future: asyncio.Future[_R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await self._run([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)

    async def aclose(self) -> None:
        """Wait for the batch in flight."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
