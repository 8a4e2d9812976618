"""Stopping background tasks: the caller's own cancellation is never swallowed."""

from __future__ import annotations

import asyncio

import pytest

from safe_polling._tasks import cancel_and_wait


async def slow_to_stop(stopping: asyncio.Event, release: asyncio.Event) -> None:
    """A task that takes its time to clean up after being cancelled."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        stopping.set()
        await release.wait()
        raise


async def test_a_caller_cancelled_while_waiting_for_the_task_stays_cancelled() -> None:
    stopping, release = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(slow_to_stop(stopping, release))
    await asyncio.sleep(0)
    went_on = False

    async def shutdown() -> None:
        nonlocal went_on
        await cancel_and_wait(task)
        went_on = True  # what a swallowed cancellation would let happen

    caller = asyncio.create_task(shutdown())
    await stopping.wait()
    caller.cancel()  # e.g. the shutdown budget ran out
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert not went_on
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task  # the task itself still ends as cancelled


async def test_the_task_is_cancelled_and_waited_for() -> None:
    stopping, release = asyncio.Event(), asyncio.Event()
    release.set()
    task = asyncio.create_task(slow_to_stop(stopping, release))
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()
    assert stopping.is_set()


async def test_a_task_that_failed_raises_its_error() -> None:
    async def fails() -> None:
        raise RuntimeError("broken")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="broken"):
        await cancel_and_wait(task)


async def test_a_task_that_finished_is_left_as_it_was() -> None:
    async def done() -> int:
        return 1

    task = asyncio.create_task(done())
    await task
    await cancel_and_wait(task)
    assert task.result() == 1
