"""The behaviour every lease backend shares, run against real PostgreSQL, Redis and files."""

from __future__ import annotations

import os
import socket

import anyio
import pytest

from safe_polling.lease import LeaseLost

from .conftest import SECRET, Holder, LeaseFactory, spec_for

WAIT = 15  # generous bound on functional waits; never a speed assertion


async def test_second_instance_cannot_take_a_held_lease(new_lease: LeaseFactory) -> None:
    first, second = new_lease(), new_lease()
    assert await first.try_acquire()
    assert not await second.try_acquire()
    assert first.held
    assert not second.held
    await first.ensure_held()


async def test_release_lets_another_instance_take_it(new_lease: LeaseFactory) -> None:
    first, second = new_lease(), new_lease()
    assert await first.try_acquire()
    await first.release()
    await first.release()  # idempotent
    assert not first.held
    assert await second.try_acquire()
    assert not await first.try_acquire()


async def test_ensure_held_raises_when_not_held(new_lease: LeaseFactory) -> None:
    lease = new_lease()
    with pytest.raises(LeaseLost):
        await lease.ensure_held()
    await lease.acquire()
    await lease.ensure_held()
    await lease.release()
    with pytest.raises(LeaseLost):
        await lease.ensure_held()


async def test_waiting_acquire_wakes_when_holder_releases(new_lease: LeaseFactory) -> None:
    holder, standby = new_lease(), new_lease()
    await holder.acquire()
    async with anyio.create_task_group() as tg:
        tg.start_soon(standby.acquire)
        await anyio.sleep(0.3)
        assert not standby.held  # still standing by
        await holder.release()
        with anyio.fail_after(WAIT):
            while not standby.held:
                await anyio.sleep(0.01)
    await standby.ensure_held()
    assert not await holder.try_acquire()


async def test_cancelled_acquire_leaves_nothing_held(new_lease: LeaseFactory) -> None:
    holder, cancelled, third = new_lease(), new_lease(), new_lease()
    await holder.acquire()
    with anyio.move_on_after(0.3):
        await cancelled.acquire()
    assert not cancelled.held
    await holder.release()
    with anyio.fail_after(WAIT):
        await third.acquire()
    assert not cancelled.held


async def test_context_manager_releases(new_lease: LeaseFactory) -> None:
    first, second = new_lease(), new_lease()
    async with first:
        await first.acquire()
        assert not await second.try_acquire()
    assert not first.held
    assert await second.try_acquire()


async def test_holder_is_visible_from_a_non_holder(new_lease: LeaseFactory) -> None:
    holder, observer = new_lease(), new_lease()
    assert await observer.holder() is None
    await holder.acquire()
    info = await observer.holder()
    assert info is not None
    assert info.pid == os.getpid()
    # PostgreSQL may cut the host name short (application_name is 63 bytes), never to nothing.
    assert info.host, info
    assert socket.gethostname().startswith(info.host), info
    assert info.started_at is not None
    assert f"pid={os.getpid()}" in str(info)
    await holder.release()
    assert await observer.holder() is None


async def test_holder_in_another_process_excludes_us_and_is_shown(
    backend: str,
    lease_target: str,
    lease_options: dict[str, object],
    new_lease: LeaseFactory,
    holders: list[Holder],
) -> None:
    child = Holder(spec_for(backend, lease_target, **lease_options))
    holders.append(child)
    await child.wait_held()
    lease = new_lease()
    assert not await lease.try_acquire()
    info = await lease.holder()
    assert info is not None
    assert info.pid == child.proc.pid


async def test_killed_holder_process_hands_over_to_the_waiting_instance(
    backend: str,
    lease_target: str,
    lease_options: dict[str, object],
    new_lease: LeaseFactory,
    holders: list[Holder],
) -> None:
    child = Holder(spec_for(backend, lease_target, **lease_options))
    holders.append(child)
    await child.wait_held()
    standby = new_lease()
    async with anyio.create_task_group() as tg:
        tg.start_soon(standby.acquire)
        await anyio.sleep(0.3)
        assert not standby.held
        child.kill()
        with anyio.fail_after(WAIT):
            while not standby.held:
                await anyio.sleep(0.01)
    await standby.ensure_held()
    info = await new_lease().holder()
    assert info is not None
    assert info.pid == os.getpid()


async def test_no_secret_in_description_or_holder(new_lease: LeaseFactory) -> None:
    lease = new_lease()
    await lease.acquire()
    info = await new_lease().holder()
    text = f"{lease.describe()} {info} {info!r}"
    assert "987654321" in lease.describe()
    assert SECRET not in text
    await lease.release()
    with pytest.raises(LeaseLost) as caught:
        await lease.ensure_held()
    assert SECRET not in str(caught.value)
