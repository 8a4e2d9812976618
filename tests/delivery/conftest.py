"""Run the delivery bot (``_bot.py``) as real subprocesses against a fake Bot API.

Also the fresh PostgreSQL schema the delivery tests share, and a bounded wait.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from safe_polling.db import BalanceStore, open_balance_store

BOT = Path(__file__).with_name("_bot.py")


class BotProcess:
    """One running bot subprocess, with its output collected."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def wait_for_line(self, needle: str, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while needle not in self.output:
                if self.proc.returncode is not None:
                    raise AssertionError(f"bot exited before {needle!r}:\n{self.output}")
                await asyncio.sleep(0.02)

    async def signal_and_wait(self, sig: int, timeout: float = 30) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._reader
        return code


@asynccontextmanager
async def bot_process(
    base_url: str, token: str, database_url: str, *, script: Path = BOT, **env: str
) -> AsyncIterator[BotProcess]:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_BASE_URL": base_url,
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    bot = BotProcess(proc)
    try:
        yield bot
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        await bot._reader


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[BalanceStore]:
    """A balance store on a fresh SQLite file."""
    async with open_balance_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}") as store:
        yield store


@pytest.fixture
async def pg_url(pg_dsn: str) -> AsyncIterator[str]:
    """A PostgreSQL URL on a fresh schema of its own, dropped afterwards."""
    schema = f"delivery_{uuid.uuid4().hex[:12]}"
    async with open_balance_store(pg_dsn) as admin:
        await admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{pg_dsn}?search_path={schema}"
        finally:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")


async def eventually(check: Callable[[], object], timeout: float = 20) -> None:
    """Wait until *check()* is truthy (an awaitable result is awaited)."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)
