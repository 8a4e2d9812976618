"""``to_async`` keeps the loop free and bounded; the blocking twins work only outside a loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import anyio
import pytest

from safe_polling.db import (
    InsufficientFunds,
    add_user_balance,
    get_user_balance,
    set_user_balance,
    subtract_user_balance,
    to_async,
)

WAIT = 10.0  # bound on every cross-thread wait; never reached when things work


async def test_to_async_keeps_the_loop_running() -> None:
    ticked = threading.Event()

    @to_async
    def blocking_lookup(user_id: int, *, scale: int = 1) -> tuple[int, bool]:
        # Blocks its thread until the loop has ticked: if this ran on the loop itself,
        # the ticker could never run and the wait would time out.
        return user_id * scale, ticked.wait(WAIT)

    async def ticker() -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        ticked.set()

    tick_task = asyncio.create_task(ticker())
    assert await blocking_lookup(21, scale=2) == (42, True)
    await tick_task
    assert blocking_lookup.__name__ == "blocking_lookup"  # functools.wraps kept


async def test_to_async_honours_the_capacity_limit() -> None:
    limiter = anyio.CapacityLimiter(2)
    barrier = threading.Barrier(2, timeout=WAIT)
    lock = threading.Lock()
    running = peak = 0

    @to_async(limiter=limiter)
    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        barrier.wait()  # proves two calls run together (a limit of 1 would time out here)
        with lock:
            running -= 1

    await asyncio.wait_for(asyncio.gather(*(work() for _ in range(8))), 60)
    assert peak == 2


async def test_to_async_propagates_exceptions() -> None:
    @to_async
    def fail() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        await fail()


def test_sync_twins_work_outside_a_loop(store_url: str) -> None:
    assert get_user_balance(1, url=store_url) == 0
    assert set_user_balance(1, 10, url=store_url) == 10
    assert add_user_balance(1, 5, idempotency_key="s1", url=store_url) == 15
    assert add_user_balance(1, 5, idempotency_key="s1", url=store_url) == 15
    assert subtract_user_balance(1, 15, reason="all", url=store_url) == 0
    with pytest.raises(InsufficientFunds):
        subtract_user_balance(1, 1, url=store_url)
    assert get_user_balance(1, url=store_url) == 0


def test_sync_twins_default_to_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    assert add_user_balance(3, 7) == 7
    assert (tmp_path / "env.sqlite3").exists()


async def test_sync_twins_refuse_inside_a_running_loop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.sqlite3"
    for call, name in (
        (lambda: get_user_balance(1, url=url), "get_user_balance"),
        (lambda: set_user_balance(1, 1, url=url), "set_user_balance"),
        (lambda: add_user_balance(1, 1, url=url), "add_user_balance"),
        (lambda: subtract_user_balance(1, 1, url=url), "subtract_user_balance"),
    ):
        with pytest.raises(RuntimeError, match=f"await {name}_async"):
            call()
    assert not (tmp_path / "x.sqlite3").exists()  # refused before touching the database
