"""Redis specifics: renewal, loss when the key goes, release notification, errors."""

from __future__ import annotations

import anyio
import pytest
from redis.asyncio import Redis

from safe_polling.lease import LeaseError, LeaseLost, RedisLease

from .conftest import SECRET, TOKEN, Holder, spec_for

pytestmark = pytest.mark.redis
WAIT = 15


async def test_renewal_keeps_the_lease_past_its_ttl(redis_url: str, unique_name: str) -> None:
    async with (
        RedisLease(redis_url, bot_id=TOKEN, name=unique_name, ttl=0.6) as lease,
        RedisLease(redis_url, bot_id=TOKEN, name=unique_name, ttl=0.6) as other,
    ):
        await lease.acquire()
        await anyio.sleep(2.0)  # several TTLs
        await lease.ensure_held()
        assert not await other.try_acquire()
        assert not lease.lost.is_set()


@pytest.mark.parametrize("how", ["deleted", "overwritten"])
async def test_key_gone_fires_lost_and_fails_the_fence(
    redis_url: str, unique_name: str, how: str
) -> None:
    lease = RedisLease(redis_url, bot_id=TOKEN, name=unique_name, ttl=1.5)
    client = Redis.from_url(redis_url)
    try:
        await lease.acquire()
        if how == "deleted":
            await client.delete(lease.key)
        else:
            await client.set(lease.key, "someone else", px=10_000)
        with pytest.raises(LeaseLost, match="gone or taken"):
            await lease.ensure_held()
        assert lease.lost.is_set()
        # The holder must not delete a key it no longer owns.
        await lease.release()
        assert (await client.get(lease.key) is None) == (how == "deleted")
    finally:
        await client.delete(lease.key)
        await client.aclose()
        await lease.aclose()


async def test_renewal_task_notices_a_deleted_key(redis_url: str, unique_name: str) -> None:
    lease = RedisLease(redis_url, bot_id=TOKEN, name=unique_name, ttl=1.5)
    client = Redis.from_url(redis_url)
    try:
        await lease.acquire()
        await client.delete(lease.key)
        with anyio.fail_after(WAIT):
            await lease.wait_lost()
        assert not lease.held
    finally:
        await client.aclose()
        await lease.aclose()


async def test_release_wakes_the_standby_long_before_the_ttl(
    redis_url: str, unique_name: str
) -> None:
    # ttl=60: without the release notification the standby would sleep past WAIT.
    async with (
        RedisLease(redis_url, bot_id=TOKEN, name=unique_name, ttl=60) as holder,
        RedisLease(redis_url, bot_id=TOKEN, name=unique_name, ttl=60) as standby,
    ):
        await holder.acquire()
        async with anyio.create_task_group() as tg:
            tg.start_soon(standby.acquire)
            await anyio.sleep(0.3)
            await holder.release()
            with anyio.fail_after(WAIT):
                while not standby.held:
                    await anyio.sleep(0.01)


async def test_crashed_holder_is_replaced_after_its_ttl(
    redis_url: str, unique_name: str, holders: list[Holder]
) -> None:
    child = Holder(spec_for("redis", redis_url, name=unique_name, ttl=1.0))
    holders.append(child)
    await child.wait_held()
    async with RedisLease(redis_url, bot_id=TOKEN, name=unique_name, ttl=1.0) as standby:
        assert not await standby.try_acquire()
        child.kill()
        with anyio.fail_after(WAIT):
            await standby.acquire()
        await standby.ensure_held()


async def test_unreachable_server_gives_a_clear_error_without_password(unique_name: str) -> None:
    lease = RedisLease("redis://:hunter2pass@127.0.0.1:1/0", bot_id=TOKEN, name=unique_name)
    with pytest.raises(LeaseError) as caught:
        await lease.try_acquire()
    text = f"{caught.value} {lease.describe()}"
    assert "127.0.0.1:1/0" in text
    assert "hunter2pass" not in text
    assert SECRET not in text
    await lease.aclose()


def test_rejects_bad_settings() -> None:
    with pytest.raises(LeaseError):
        RedisLease("http://h", bot_id=1)
    with pytest.raises(LeaseError):
        RedisLease("redis://h", bot_id=1, ttl=5, renew_interval=5)
