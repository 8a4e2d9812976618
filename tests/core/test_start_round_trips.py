"""The start pays no round trip it does not need: one getMe, deleteWebhook only when needed."""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from safe_polling import safe_start_polling, safe_stop_polling
from safe_polling.testing import FakeBotAPI

from .test_polling import build_app, safe_lines, wait_until
from .test_run_polling import finish, read_until, start_bot


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(conflict_delay=0.05) as fake:
        yield fake


def calls_before_first_poll(api: FakeBotAPI) -> list[str]:
    methods = [c.method for c in api.calls]
    return methods[: methods.index("getUpdates")]


async def run_bot_until_polling(
    api: FakeBotAPI, then: Callable[[], Awaitable[None]] | None = None, **env: str
) -> str:
    """Start the echo bot (preflight on, no database), wait for its first poll, stop it."""
    proc = await start_bot(api, **{"ECHO_BOT_PREFLIGHT": "1", "DATABASE_URL": "", **env})
    seen: list[str] = []
    try:
        await read_until(proc, "Polling started successfully", seen)
        await wait_until(lambda: api.stats.get_updates_calls >= 1)
        if then is not None:
            await then()
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc, seen) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return "".join(seen)


async def test_run_polling_without_a_webhook_calls_get_me_once_and_no_delete_webhook(
    api: FakeBotAPI,
) -> None:
    output = await run_bot_until_polling(api)
    assert sorted(calls_before_first_poll(api)) == ["getMe", "getWebhookInfo"]
    assert (
        "🗑️ Deleting webhook and dropping pending updates... (nothing to do: no webhook, "
        "no pending update, seen before the start)" in output
    )


async def test_a_default_start_imports_no_backend_it_does_not_use(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    # Each of these costs a bot start-up time (benchmarks/startup_bench.py): metrics with
    # nothing to read them, the PostgreSQL/Redis lease and queue backends, the balance store.
    modules_file = tmp_path / "modules.txt"

    async def echo_once() -> None:
        api.inject_message(5, "hi")
        await wait_until(lambda: bool(api.sent(5)), timeout=10)

    await run_bot_until_polling(
        api,
        echo_once,
        ECHO_BOT_LEASE="env",
        SAFE_POLLING_LEASE_FILE=str(tmp_path / "lease.lock"),
        ECHO_BOT_MODULES_FILE=str(modules_file),
    )
    modules = set(modules_file.read_text(encoding="utf-8").split())
    assert {"safe_polling._run", "safe_polling.lease._file", "safe_polling._preflight"} <= modules
    unused = {
        "prometheus_client",
        "asyncpg",
        "redis",
        "safe_polling.db",
        "safe_polling.lease._postgres",
        "safe_polling.lease._redis",
        "safe_polling.queue._redis",
        "safe_polling.queue._memory",
        "safe_polling._render",
    }
    assert modules & unused == set()


async def test_run_polling_with_a_webhook_deletes_it_once_before_polling(api: FakeBotAPI) -> None:
    api.set_webhook("https://elsewhere.example/hook")
    output = await run_bot_until_polling(api)
    before = calls_before_first_poll(api)
    assert sorted(before) == ["deleteWebhook", "getMe", "getWebhookInfo"]
    assert before[-1] == "deleteWebhook"
    assert "🗑️ Deleting webhook and dropping pending updates...\n" in output.replace("\r", "")
    assert api.stats.conflicts_total == 0


async def test_run_polling_drops_pending_updates_seen_by_the_preflight(api: FakeBotAPI) -> None:
    api.inject_message(5, "sent while the bot was down")
    await run_bot_until_polling(api)
    assert calls_before_first_poll(api)[-1] == "deleteWebhook"
    assert api.stats.for_token(api.token).delete_webhook_calls == (True,)
    assert api.sent(5) == []


async def test_safe_start_polling_deletes_the_webhook_once_not_twice(api: FakeBotAPI) -> None:
    app = build_app(api)
    assert await safe_start_polling(app, drop_updates=False) is True
    try:
        await wait_until(lambda: api.stats.get_updates_calls >= 1)
        assert calls_before_first_poll(api) == ["deleteWebhook", "getMe"]
    finally:
        await safe_stop_polling(app)


async def test_a_webhook_set_while_polling_is_deleted_and_polling_goes_on(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = build_app(api)
    await safe_start_polling(app, timeout=1)
    try:
        await wait_until(lambda: api.stats.get_updates_calls >= 1)
        api.set_webhook("https://elsewhere.example/hook")
        update = api.inject_message(6, "after the webhook")
        await wait_until(lambda: update not in api.pending_updates(), timeout=10)
    finally:
        await safe_stop_polling(app)
    assert "⚠️ A webhook is set for this token; deleting it to keep polling" in safe_lines(caplog)
