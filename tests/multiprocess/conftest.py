"""One fake Bot API process shared by the whole folder; a fresh bot token per test.

Each test polls with its own token (the fake keeps counters per token) and its own lease
name, so tests never see each other's pollers even though they share the fake.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from safe_polling.testing import FakeBotAPIClient, make_token

from ._harness import Fleet, lease_env

READY = "FakeBotAPI listening on "
# 409s are throttled like the real server, but for 0.2 s instead of 3 s: if a test ever
# provokes them, it still finishes quickly (and fails on the count).
CONFLICT_DELAY = "0.2"


@pytest.fixture(scope="session")
def fake_process() -> Iterator[str]:
    """The shared fake Bot API process; yields its control URL."""
    command = [sys.executable, "-m", "safe_polling.testing", "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--conflict-delay", CONFLICT_DELAY], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()  # the fake prints it within a second or two
        assert line.startswith(READY), f"fake Bot API did not start: {line!r}"
        yield line.removeprefix(READY).removesuffix("/bot") + "/_control"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Bot:
    """The fake as seen by one test: its client and a token no other test uses."""

    fake: FakeBotAPIClient
    token: str
    chat_id: int

    async def inject(self, text: str) -> int:
        """Send *text* to this bot from this test's chat; return the update id."""
        update = await self.fake.inject_message(self.chat_id, text, token=self.token)
        return int(update["update_id"])

    async def wait_handled(self, update_id: int, timeout: float = 20.0) -> None:
        """Wait for the bot's ``handled <update_id>`` reply."""
        text = f"handled {update_id}"
        await self.fake.wait_for(
            lambda s: s.token == self.token and s.text == text,
            chat_id=self.chat_id,
            timeout=timeout,
        )

    async def replies(self) -> list[str]:
        """Every text this bot sent to this test's chat."""
        return [s.text or "" for s in await self.fake.sent(self.chat_id, token=self.token)]

    async def stats(self) -> tuple[int, int]:
        """``(max concurrent getUpdates, 409 answers)`` for this test's token."""
        stats = (await self.fake.stats()).for_token(self.token)
        return stats.max_concurrent_get_updates, stats.conflicts_total


@pytest_asyncio.fixture
async def bot(fake_process: str) -> AsyncIterator[Bot]:
    """A connected client of the shared fake and a fresh token."""
    async with FakeBotAPIClient(fake_process) as client:
        yield Bot(client, make_token(), secrets.randbelow(10**9) + 10**6)


def make_env(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Lease variables for *kind*, asking for the service fixtures only when needed."""
    pg = request.getfixturevalue("pg_dsn") if kind == "postgres" else ""
    redis = request.getfixturevalue("redis_url") if kind in ("redis", "k8s") else ""
    return lease_env(kind, pg_dsn=pg, redis_url=redis, lock_file=tmp_path / "lease.lock")


FleetFactory = Callable[..., Fleet]


@pytest.fixture
def make_fleet(bot: Bot, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FleetFactory]:
    """``make_fleet(kind, **env)`` -> a :class:`Fleet` of this test's bot (killed afterwards)."""
    opened: list[Fleet] = []

    def factory(kind: str, **extra: str) -> Fleet:
        workdir = tmp_path / f"fleet{len(opened)}"
        workdir.mkdir()
        env = {**make_env(kind, request, tmp_path), **extra}
        group = Fleet(workdir, bot.fake.base_url, bot.token, env)
        opened.append(group)
        return group

    try:
        yield factory
    finally:
        for group in opened:
            group.kill_all()
