"""Shared fixtures: real PostgreSQL and Redis from the machine, the fake Bot API.

PostgreSQL and Redis are real servers (defaults: the local ones at 127.0.0.1).
When one is unreachable its tests are skipped locally, but with
``SAFE_POLLING_REQUIRE_SERVICES=1`` (set by ``.ci/run``) they fail, and any
skipped test at all fails the session: a skipped database test in CI is a
failure, not a pass.

Tests marked ``destructive`` restart this machine's PostgreSQL cluster or create
network namespaces as root. They run only with ``SAFE_POLLING_DESTRUCTIVE_TESTS=1``
(set by ``.ci/run``), so that ``bash scripts/test.sh`` on a laptop never restarts
the developer's database.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

pytest_plugins = ["safe_polling.testing.pytest_plugin"]

PG_DSN = os.environ.get("SAFE_POLLING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SAFE_POLLING_TEST_REDIS", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("SAFE_POLLING_REQUIRE_SERVICES") == "1"
DESTRUCTIVE = os.environ.get("SAFE_POLLING_DESTRUCTIVE_TESTS") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _need(url: str, default_port: int, what: str) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{what} is not reachable at {urlsplit(url).netloc.rsplit('@', 1)[-1]}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (SAFE_POLLING_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture
def pg_dsn() -> str:
    """DSN of the real PostgreSQL test database."""
    return _need(PG_DSN, 5432, "PostgreSQL")


@pytest.fixture
def redis_url() -> str:
    """URL of the real Redis server."""
    return _need(REDIS_URL, 6379, "Redis")


@pytest.fixture
async def replica_env(redis_url: str) -> AsyncIterator[dict[str, str]]:
    """Scale-out replicas' queue and lease on Redis, under a fresh name; its keys deleted after."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield {
        "SAFE_POLLING_QUEUE": redis_url,
        "SAFE_POLLING_QUEUE_NAME": name,
        "SAFE_POLLING_LEASE": "redis",
        "SAFE_POLLING_REDIS_URL": redis_url,
        "SAFE_POLLING_LEASE_NAME": name,
    }
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"safe-polling:*{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(autouse=True)
def _reset_polling_guard() -> Iterator[None]:
    """Each test starts with the process-wide polling guard released."""
    yield
    try:
        from safe_polling._polling import _reset_guard_for_tests
    except ImportError:  # foundation not built yet
        return
    _reset_guard_for_tests()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DESTRUCTIVE:
        return
    skip = pytest.mark.skip(
        reason="restarts the machine's PostgreSQL or creates network namespaces: "
        "set SAFE_POLLING_DESTRUCTIVE_TESTS=1 to run it"
    )
    for item in items:
        if "destructive" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRE_SERVICES:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(
                f"FAILED: {skipped} test(s) skipped with SAFE_POLLING_REQUIRE_SERVICES=1", red=True
            )
