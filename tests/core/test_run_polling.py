"""run_polling in a real subprocess: signals, clean exit, no token in any log line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from safe_polling.testing import FakeBotAPI

BOT = Path(__file__).with_name("_echo_bot.py")


async def start_bot(api: FakeBotAPI, **env: str) -> asyncio.subprocess.Process:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def read_until(proc: asyncio.subprocess.Process, needle: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    async with asyncio.timeout(20):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"bot exited before {needle!r}:\n{''.join(seen)}")
            seen.append(line)
            if needle in line:
                return


async def finish(proc: asyncio.subprocess.Process, seen: list[str]) -> int:
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        rest = await proc.stdout.read()
        seen.append(rest.decode())
        return await proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_polling_stops_cleanly_on_signal_and_exits_0(sig: signal.Signals) -> None:
    async with FakeBotAPI() as api:
        proc = await start_bot(api)
        seen: list[str] = []
        try:
            await read_until(proc, "Polling started successfully", seen)
            api.inject_message(77, "hello")
            await api.wait_for_text(77, "echo: hello", timeout=10)
            proc.send_signal(sig)
            code = await finish(proc, seen)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        output = "".join(seen)
        assert code == 0, output
        assert f"Received {sig.name}: stopping" in output
        assert "Traceback" not in output
        # The update was confirmed on the way out: nothing is left pending.
        assert api.stats.for_token(api.token).pending_count == 0
        assert api.stats.max_concurrent_get_updates == 1


async def test_startup_log_lines_in_order_with_preflight() -> None:
    async with FakeBotAPI() as api:
        proc = await start_bot(api, ECHO_BOT_PREFLIGHT="1", DATABASE_URL="")
        seen: list[str] = []
        try:
            await read_until(proc, "Polling started successfully", seen)
            proc.send_signal(signal.SIGTERM)
            assert await finish(proc, seen) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    output = "".join(seen)
    expected = [
        "✅ Preflight check passed: ready to start bot",
        "🗑️ Deleting webhook and dropping pending updates...",
        "🔧 Initializing application...",
        "📡 Starting polling...",
        "✅ Polling started successfully!",
    ]
    positions = [output.find(line) for line in expected]
    assert -1 not in positions, output
    assert positions == sorted(positions), output


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_token_never_reaches_the_log_even_with_httpx_at_debug(level: str) -> None:
    async with FakeBotAPI() as api:
        secret = api.token.split(":", 1)[1]
        proc = await start_bot(api, ECHO_BOT_LOG_LEVEL=level)
        seen: list[str] = []
        try:
            await read_until(proc, "Polling started successfully", seen)
            api.inject_message(78, "hi")
            await api.wait_for_text(78, "echo: hi", timeout=10)
            proc.send_signal(signal.SIGTERM)
            assert await finish(proc, seen) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    output = "".join(seen)
    assert "HTTP Request" in output  # httpx's per-request lines were there to leak
    assert secret not in output


async def test_rejected_token_exits_1_without_traceback_or_token() -> None:
    async with FakeBotAPI() as strict:
        wrong = strict.make_token()
        async with FakeBotAPI(token=strict.make_token()) as api:
            env = {"TELEGRAM_BOT_TOKEN": wrong, "TELEGRAM_BASE_URL": api.base_url}
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(BOT),
                env={**os.environ, **env},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            seen: list[str] = []
            code = await finish(proc, seen)
    output = "".join(seen)
    assert code == 1, output
    assert "Telegram rejected the bot token" in output
    assert "Traceback" not in output
    assert wrong.split(":", 1)[1] not in output


_NO_DB = "postgresql://bot:hunter2hunter@127.0.0.1:9/app"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ECHO_BOT_LEASE": "env", "SAFE_POLLING_LEASE": "bogus"}, "invalid polling lease"),
        ({"SAFE_POLLING_DELIVERY": "sometimes"}, "delivery must be one of"),
        ({"SAFE_POLLING_WATCHDOG": "soon"}, "Invalid configuration"),
        ({"SAFE_POLLING_HEALTH_PORT": "99999"}, "Invalid configuration"),
        # Nothing listens on port 9: the database opens while the preflight runs (or alone).
        ({"DATABASE_URL": _NO_DB}, "cannot open the database: "),
        ({"DATABASE_URL": _NO_DB, "ECHO_BOT_PREFLIGHT": "1"}, "❌ Preflight failed"),
    ],
)
async def test_bad_configuration_exits_1_with_one_clear_line(
    env: dict[str, str], message: str
) -> None:
    async with FakeBotAPI() as api:
        proc = await start_bot(api, **env)
        seen: list[str] = []
        code = await finish(proc, seen)
    output = "".join(seen)
    assert code == 1, output
    assert message in output
    assert "Traceback" not in output
    assert "never retrieved" not in output  # the database opening was awaited or cancelled
    assert "hunter2hunter" not in output
    assert api.stats.get_updates_calls == 0


async def test_takeover_keeps_updates_sent_while_no_instance_polled(tmp_path: Path) -> None:
    """A standby that takes over must not drop what arrived during the handover."""
    lease_env = {
        "ECHO_BOT_LEASE": "env",
        "SAFE_POLLING_LEASE": "file",
        "SAFE_POLLING_LEASE_FILE": str(tmp_path / "poll.lock"),
        "DATABASE_URL": "",  # at-most-once: only the takeover rule keeps the update
    }
    async with FakeBotAPI() as api:
        old = await start_bot(api, **lease_env)
        new: asyncio.subprocess.Process | None = None
        seen_old: list[str] = []
        seen_new: list[str] = []
        try:
            await read_until(old, "Polling started successfully", seen_old)
            new = await start_bot(api, **lease_env)
            await read_until(new, "standing by", seen_new)
            old.send_signal(signal.SIGSTOP)  # the old leader hangs, then dies
            api.inject_message(79, "sent during the handover")
            old.send_signal(signal.SIGKILL)
            await read_until(new, "Polling started successfully", seen_new)
            await api.wait_for_text(79, "echo: sent during the handover", timeout=15)
            new.send_signal(signal.SIGTERM)
            assert await finish(new, seen_new) == 0
        finally:
            for proc in (old, new):
                if proc is not None and proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    assert "🗑️ Deleting webhook..." in "".join(seen_new)
    assert "dropping pending updates" not in "".join(seen_new)
