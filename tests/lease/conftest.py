"""Lease test helpers: one factory per backend, and lease holders in child processes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anyio
import pytest

from safe_polling.lease import FileLease, PollingLease, PostgresLease, RedisLease

# A bot token whose secret part must never show up anywhere.
SECRET = "AAHsecretPART-never-log-me"
TOKEN = f"987654321:{SECRET}"

LeaseFactory = Callable[[], PollingLease]

# The child builds a lease from a JSON spec, takes it, reports, and holds it until killed.
HOLD_LEASE = str(Path(__file__).with_name("_hold_lease.py"))


def spec_for(kind: str, target: str, **options: object) -> dict[str, object]:
    """The keyword arguments a child needs to build the same lease as the test."""
    return {"kind": kind, "target": target, "bot_id": TOKEN, **options}


class Holder:
    """A child process that holds a lease until it is killed."""

    def __init__(self, spec: dict[str, object]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, HOLD_LEASE, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    async def wait_held(self, timeout: float = 30) -> None:
        assert self.proc.stdout is not None
        with anyio.fail_after(timeout):
            line = await anyio.to_thread.run_sync(self.proc.stdout.readline)
        assert line.strip() == "held", self.proc.stderr.read() if self.proc.stderr else ""

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to release anything."""
        self.proc.kill()
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def unique_name() -> str:
    """A lease name no other test uses, so tests never collide on a shared server."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.close()


@pytest.fixture(params=["postgres", "redis", "file"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def lease_target(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The DSN, URL or path a backend's leases share."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_dsn"))
    if backend == "redis":
        return str(request.getfixturevalue("redis_url"))
    return str(tmp_path / "bot.lock")


@pytest.fixture
def lease_options(backend: str, unique_name: str) -> dict[str, object]:
    """Backend options for quick tests: a short Redis TTL, fast background checks."""
    if backend == "postgres":
        return {"name": unique_name, "check_interval": 0.5}
    if backend == "redis":
        return {"name": unique_name, "ttl": 2.0}
    return {"name": unique_name, "check_interval": 0.2}


@pytest.fixture
async def new_lease(
    backend: str, lease_target: str, lease_options: dict[str, object]
) -> AsyncIterator[LeaseFactory]:
    """Make leases on the same key; all are closed at teardown."""
    made: list[PollingLease] = []
    kinds: dict[str, type[PollingLease]] = {
        "postgres": PostgresLease,
        "redis": RedisLease,
        "file": FileLease,
    }

    def make() -> PollingLease:
        lease = kinds[backend](lease_target, bot_id=TOKEN, **lease_options)  # type: ignore[call-arg]
        made.append(lease)
        return lease

    yield make
    with anyio.CancelScope(shield=True):
        for lease in made:
            await lease.aclose()
