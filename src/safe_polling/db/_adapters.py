"""``to_async``: run an existing blocking DB function off the event loop."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

import anyio.to_thread
from anyio import CapacityLimiter

__all__ = ["DEFAULT_TO_ASYNC_CAPACITY", "to_async"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TO_ASYNC_CAPACITY = 10
"""Threads that all :func:`to_async` functions without their own limiter share per loop.

.. versionadded:: 0.1.0
"""

# One shared limiter per event loop: a limiter binds to the loop it first waits on, and
# test suites (and asyncio.run in scripts) create many loops.
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _default_limiter() -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = CapacityLimiter(DEFAULT_TO_ASYNC_CAPACITY)
    return limiter


@overload
def to_async(
    fn: Callable[P, R], /, *, limiter: CapacityLimiter | None = None
) -> Callable[P, Coroutine[Any, Any, R]]: ...


@overload
def to_async(
    fn: None = None, /, *, limiter: CapacityLimiter | None = None
) -> Callable[[Callable[P, R]], Callable[P, Coroutine[Any, Any, R]]]: ...


def to_async(
    fn: Callable[P, R] | None = None, /, *, limiter: CapacityLimiter | None = None
) -> Any:
    """Make a blocking function awaitable: each call runs in a worker thread.

    For bots whose database layer is synchronous and cannot be rewritten yet: the event
    loop keeps serving other updates while the call blocks its thread. At most
    *limiter*'s ``total_tokens`` calls run at once (excess calls wait without blocking);
    by default all wrapped functions share :data:`DEFAULT_TO_ASYNC_CAPACITY` threads.
    The wrapper keeps the signature for type checkers. A cancelled caller stops waiting
    only once the thread has finished, so a half-done write is never abandoned.

    Note:
        This only moves the blocking; it does not make the function's read-modify-write
        logic atomic. Prefer :func:`~safe_polling.db.open_balance_store` for balances.

    Args:
        fn (Callable): The blocking function; omit it to use ``@to_async(limiter=...)``.
        limiter (:class:`anyio.CapacityLimiter`, optional): Bounds concurrent calls.

    Returns:
        The coroutine function (or, without *fn*, a decorator making one).

    Example:
        .. code:: python

            @to_async
            def get_user_balance(user_id: int) -> int:
                with sqlite3.connect("bot.db") as conn:
                    return conn.execute(...).fetchone()[0]

            balance = await get_user_balance(user_id)  # in a handler

    .. versionadded:: 0.1.0
    """
    if fn is None:
        return functools.partial(_wrap, limiter=limiter)
    return _wrap(fn, limiter=limiter)


def _wrap(
    fn: Callable[P, R], *, limiter: CapacityLimiter | None
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return await anyio.to_thread.run_sync(
            functools.partial(fn, *args, **kwargs), limiter=limiter or _default_limiter()
        )

    return wrapper
