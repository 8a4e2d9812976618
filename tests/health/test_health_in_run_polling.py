"""The health port as run_polling serves it: real subprocesses, a file lease."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from safe_polling.testing import FakeBotAPI

BOT = Path(__file__).resolve().parents[1] / "core" / "_echo_bot.py"


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A port kept bound (never listening) until the bot has taken it.

    Closing a probe socket before the bot binds would let any other process take the port
    in between. Both sockets set SO_REUSEADDR (asyncio's servers do), which lets the bot
    bind a port that this socket holds but does not listen on; nobody else can.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def start(api: FakeBotAPI, port: int, lock: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "ECHO_BOT_LEASE": "env",
        "SAFE_POLLING_LEASE": "file",
        "SAFE_POLLING_LEASE_FILE": str(lock),
        "SAFE_POLLING_HEALTH_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def health(port: int, want_role: str) -> tuple[int, dict[str, object]]:
    async with asyncio.timeout(20), httpx.AsyncClient() as client:
        while True:
            try:
                response = await client.get(f"http://127.0.0.1:{port}/healthz")
                body = response.json()
                if body["role"] == want_role:
                    return response.status_code, body
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def test_leader_and_standby_report_their_roles_and_the_standby_takes_over(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "poll.lock"
    with reserved_port() as leader_port, reserved_port() as standby_port:
        await _leader_and_standby(lock, leader_port, standby_port)


async def _leader_and_standby(lock: Path, leader_port: int, standby_port: int) -> None:
    async with FakeBotAPI() as api:
        leader = await start(api, leader_port, lock)
        standby: asyncio.subprocess.Process | None = None
        try:
            code, body = await health(leader_port, "leader")
            assert code == 200
            assert body["status"] == "ok"
            standby = await start(api, standby_port, lock)
            code, body = await health(standby_port, "standby")
            assert code == 200
            assert body["last_get_updates_age_s"] is None  # a standby never polls
            leader.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(leader.wait(), 30) == 0
            code, body = await health(standby_port, "leader")
            assert code == 200
        finally:
            for proc in (leader, standby):
                if proc is not None and proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        assert api.stats.max_concurrent_get_updates == 1
        assert api.stats.conflicts_total == 0
        secret = api.token.split(":", 1)[1]
        assert secret not in str(body)
