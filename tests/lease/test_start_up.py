"""A lease that cannot work is refused in one line; one that may come back is waited for.

A relative ``SAFE_POLLING_LEASE_FILE`` let two pollers run (each process resolved
it against its own working directory: 7 x 409 in the probe); a lock file that
cannot be opened passed the preflight as "free" and then crashed with a raw
traceback; Redis down at start failed the preflight, so the platform restarted
the bot in a loop instead of letting it stand by.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from pathlib import Path

import pytest

from safe_polling import CheckStatus
from safe_polling._preflight._runner import check_lease
from safe_polling.lease import FileLease, LeaseError, LeaseUnavailable, RedisLease, lease_from_env
from safe_polling.testing import FakeBotAPI

from .conftest import SECRET, TOKEN

ECHO_BOT = Path(__file__).parents[1] / "core" / "_echo_bot.py"


def test_relative_lease_file_is_refused_by_the_lease_and_the_environment() -> None:
    with pytest.raises(LeaseError, match=r"must be an absolute path, not 'bot\.lock'"):
        FileLease("bot.lock")
    env = {"SAFE_POLLING_LEASE": "file", "SAFE_POLLING_LEASE_FILE": "run/bot.lock"}
    with pytest.raises(LeaseError, match="absolute path"):
        lease_from_env(token=TOKEN, env=env)


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("missing/dir/bot.lock", "its directory does not exist"),
        ("", "it is a directory"),
        ("afile/bot.lock", "a part of its directory path is not a directory"),
    ],
)
async def test_unusable_lock_path_fails_the_preflight_and_the_lease_in_one_line(
    tmp_path: Path, where: str, reason: str
) -> None:
    (tmp_path / "afile").write_text("")
    lease = FileLease(tmp_path / where, bot_id=TOKEN)
    result = await check_lease(lease)
    assert result.status is CheckStatus.FAIL
    assert f"cannot open the lock file ({reason})" in result.detail
    for attempt in (lease.try_acquire, lease.acquire):
        with pytest.raises(LeaseError, match=reason):
            await attempt()


async def test_device_as_lock_file_is_refused() -> None:
    lease = FileLease(os.devnull, bot_id=TOKEN)
    result = await check_lease(lease)
    assert result.status is CheckStatus.FAIL
    assert "not a regular file" in result.detail
    with pytest.raises(LeaseError, match="not a regular file"):
        await lease.try_acquire()


async def test_unreachable_redis_is_a_preflight_warning_not_a_failure() -> None:
    with socket.socket() as sock:  # bound, not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with RedisLease(f"redis://127.0.0.1:{port}/0", bot_id=TOKEN) as lease:
            with pytest.raises(LeaseUnavailable):
                await lease.try_acquire()
            result = await check_lease(lease)
    assert result.status is CheckStatus.WARN
    assert "stand by and retry" in result.detail


async def _run_bot(api: FakeBotAPI, cwd: Path, **env: str) -> asyncio.subprocess.Process:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "PYTHONUNBUFFERED": "1",
        "ECHO_BOT_LEASE": "env",
        "ECHO_BOT_PREFLIGHT": "1",
        **env,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ECHO_BOT),
        cwd=cwd,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _read_until(proc: asyncio.subprocess.Process, needle: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        while needle not in "".join(seen):
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"bot exited before {needle!r}:\n{''.join(seen)}")
            seen.append(line)


@pytest.mark.parametrize(
    ("lease_file", "message"),
    [
        ("bot.lock", "the lease file must be an absolute path"),
        ("{tmp}/missing/bot.lock", "cannot open the lock file (its directory does not exist)"),
    ],
)
async def test_run_polling_exits_with_one_line_for_an_unusable_lease_file(
    tmp_path: Path, lease_file: str, message: str
) -> None:
    env = {"SAFE_POLLING_LEASE": "file", "DATABASE_URL": ""}
    env["SAFE_POLLING_LEASE_FILE"] = lease_file.format(tmp=tmp_path)
    async with FakeBotAPI() as api:
        proc = await _run_bot(api, tmp_path, **env)
        async with asyncio.timeout(60):
            out, _ = await proc.communicate()
        output = out.decode()
        assert api.stats.get_updates_calls == 0
    assert proc.returncode == 1, output
    assert message in output
    assert "Traceback" not in output


async def test_redis_down_at_start_stands_by_with_one_warning_then_polls(
    tmp_path: Path, redis_url: str
) -> None:
    """The bot waits as a standby while Redis is unreachable, and leads once it answers."""
    target_host, _, rest = redis_url.removeprefix("redis://").partition(":")
    target_port = int(rest.split("/")[0] or 6379)
    database = redis_url.rsplit("/", 1)[1] if redis_url.count("/") > 2 else "0"

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target_host, target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # reserved, not listening yet: Redis is "down"
    port = sock.getsockname()[1]
    env = {
        "SAFE_POLLING_LEASE": "redis",
        "SAFE_POLLING_REDIS_URL": f"redis://127.0.0.1:{port}/{database}",
        "SAFE_POLLING_LEASE_NAME": f"test-{uuid.uuid4().hex[:12]}",
        "DATABASE_URL": "",
    }
    seen: list[str] = []
    async with FakeBotAPI() as api:
        proc = await _run_bot(api, tmp_path, **env)
        server: asyncio.Server | None = None
        try:
            await _read_until(proc, "Polling lease unavailable", seen)
            assert api.stats.get_updates_calls == 0
            sock.listen(16)
            server = await asyncio.start_server(forward, sock=sock)
            await _read_until(proc, "Polling started successfully", seen)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                rest, _ = await proc.communicate()
            seen.append(rest.decode())
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if server is not None:
                server.close()
            sock.close()
    output = "".join(seen)
    assert proc.returncode == 0, output
    assert output.count("Polling lease unavailable") == 1, output  # one warning, quiet retries
    assert "stand by and retry" in output  # the preflight warned instead of failing
    # Up to the stop: PTB itself may log a traceback when SIGTERM lands during the
    # first long poll (its final getUpdates times out on the busy pool).
    assert "Traceback" not in output.split("Received SIGTERM")[0], output
    assert SECRET not in output
