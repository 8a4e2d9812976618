"""The behaviour every lease backend inherits from ``PollingLease``, and its helpers.

The backends' own tests (``test_common.py``) reach this code through real PostgreSQL, Redis
and lock files; here the shared state machine runs under a backend that keeps its lock in
memory, so each transition (held, lost, released, lost again) is checked exactly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import anyio
import pytest

import safe_polling
from safe_polling.lease import HolderInfo, LeaseError, LeaseLost, PollingLease, bot_id_from_token
from safe_polling.lease._base import _default_version, _host_name, _split_url


class MemoryLease(PollingLease):
    """A lease whose lock is a flag in this process: only the shared behaviour is real."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    async def try_acquire(self) -> bool:
        self._mark_held()
        return True

    async def acquire(self) -> None:
        self._mark_held()

    async def ensure_held(self) -> None:
        self._require_held()

    async def release(self) -> None:
        self._mark_released()

    async def holder(self) -> HolderInfo | None:
        return None

    async def aclose(self) -> None:
        await anyio.sleep(0)  # a round trip to the backend: a point where cancellation hits
        self.closed += 1
        await self.release()

    def describe(self) -> str:
        return "memory lease"


async def test_a_lease_is_not_held_until_acquired() -> None:
    lease = MemoryLease()
    assert not lease.held
    with pytest.raises(LeaseLost, match=r"^memory lease: not held$"):
        await lease.ensure_held()
    await lease.acquire()
    assert lease.held
    await lease.ensure_held()


async def test_a_loss_sets_the_event_and_the_fence_says_why() -> None:
    lease = MemoryLease()
    await lease.acquire()
    event = lease.lost
    assert not event.is_set()
    lease._mark_lost("key gone")
    assert event.is_set()
    assert not lease.held
    with pytest.raises(LeaseLost, match=r"^memory lease: lease lost \(key gone\)$"):
        await lease.ensure_held()
    async with asyncio.timeout(5):
        await lease.wait_lost()


async def test_a_release_is_not_a_loss_and_forgets_the_reason() -> None:
    lease = MemoryLease()
    await lease.acquire()
    event = lease.lost
    await lease.release()
    assert not event.is_set()
    assert not lease.held
    lease._mark_lost("too late")  # nothing held: nothing to lose
    assert not event.is_set()
    with pytest.raises(LeaseLost, match=r": not held$"):
        await lease.ensure_held()


async def test_each_tenure_gets_a_fresh_lost_event() -> None:
    lease = MemoryLease()
    await lease.acquire()
    lease._mark_lost("first tenure")
    first = lease.lost
    await lease.acquire()
    assert lease.lost is not first
    assert not lease.lost.is_set()  # the old loss must not stop the new leader
    await lease.ensure_held()
    assert lease.lost is lease.lost  # one event per tenure, not one per read


async def test_the_lost_event_exists_before_the_first_acquire() -> None:
    lease = MemoryLease()
    assert lease.lost is lease.lost
    assert not lease.lost.is_set()


async def test_leaving_the_block_closes_the_lease_even_when_cancelled() -> None:
    lease = MemoryLease()
    async with lease as entered:
        assert entered is lease
        await lease.acquire()
    assert lease.closed == 1
    assert not lease.held

    # Cancelled inside an anyio cancel scope, every await re-raises until the scope is
    # left: only a shielded close still releases, so that a standby need not wait.
    other = MemoryLease()
    with anyio.CancelScope() as scope:
        async with other:
            await other.acquire()
            scope.cancel()
            await anyio.sleep(60)
    assert scope.cancelled_caught
    assert other.closed == 1
    assert not other.held


@pytest.mark.parametrize(
    ("token", "bot_id"),
    [("123456:secret", 123456), (" 42:x ", 42), ("7", 7), (99, 99), ("1:x", 1), (1, 1)],
)
def test_bot_id_from_token(token: str | int, bot_id: int) -> None:
    assert bot_id_from_token(token) == bot_id


@pytest.mark.parametrize("token", ["0:secret", "-5:secret", "abc:secret", "", ":secret", 0, -3])
def test_bad_bot_ids_are_refused_without_echoing_them(token: str | int) -> None:
    with pytest.raises(LeaseError) as info:
        bot_id_from_token(token)
    assert "secret" not in str(info.value)
    assert str(info.value).startswith("bot id must be a positive number")


def test_a_bool_is_not_a_bot_id() -> None:
    with pytest.raises(LeaseError, match="not a bool"):
        bot_id_from_token(True)


def test_holder_info_reads_well_in_a_log_line() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    today = HolderInfo("web-1", 42, now, "abc1234", "backend_pid=7")
    assert str(today) == f"host=web-1 pid=42 since {now:%H:%M:%S}Z version=abc1234 backend_pid=7"
    old = HolderInfo("web-1", None, now - dt.timedelta(days=3), "0.1.0")
    assert str(
        old
    ) == f"host=web-1 pid=? since {now - dt.timedelta(days=3):%Y-%m-%dT%H:%M:%S}Z" + (
        " version=0.1.0"
    )
    assert str(HolderInfo("h", 1, None, "v")) == "host=h pid=1 version=v"


def test_host_name_falls_back_when_the_system_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _host_name() == socket.gethostname()
    monkeypatch.setattr(socket, "gethostname", lambda: "")
    assert _host_name() == "unknown"


def test_version_is_the_render_commit_or_the_library_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RENDER_GIT_COMMIT", "0123456789abcdef")
    assert _default_version() == "0123456"
    monkeypatch.setenv("RENDER_GIT_COMMIT", "")
    assert _default_version() == safe_polling.__version__


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2hunter2@cache:notaport/0",  # the port is only checked when read
        "postgresql://bot:hunter2hunter2@[::1/db",  # unclosed IPv6 host
    ],
    ids=["bad-port", "unclosed-ipv6-host"],  # the mutation tool deselects "redis"/"postgres"
)
def test_a_malformed_backend_url_is_one_lease_error_without_the_url(url: str) -> None:
    with pytest.raises(LeaseError, match=r"^the lease URL is not a valid URL") as err:
        _split_url(url, "the lease URL")
    assert "hunter2hunter2" not in str(err.value)
    assert err.value.__cause__ is None  # raised "from None": no chained driver text


def test_a_good_backend_url_is_split() -> None:
    parts = _split_url("redis://:pw@cache:6380/2", "the lease URL")
    assert (parts.hostname, parts.port, parts.path) == ("cache", 6380, "/2")
