"""The real entry point (bot_kie.py -> safe_polling.run_polling) as processes: a deploy
handover in the middle of a paid generation loses nothing and delivers once."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from kie_harness import EXAMPLE, WAIT, confirm, generate, process_env, say

from kie_bot.kie.fake_server import FakeKie, Outcome
from safe_polling.testing import FakeBotAPI

USER = 5151


def bot_env(api: FakeBotAPI, kie: FakeKie, tmp_path: Path) -> dict[str, str]:
    return process_env(
        api,
        kie,
        f"sqlite:///{tmp_path}/bot.sqlite3",
        SAFE_POLLING_LEASE="file",
        SAFE_POLLING_LEASE_FILE=str(tmp_path / "lease"),
    )


async def start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "bot_kie.py",
        cwd=str(EXAMPLE),
        env=env,
        stdout=log.open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )


async def stop_bot(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise


@pytest.mark.slow
async def test_deploy_handover_mid_generation_resumes_and_delivers_once(
    fake_bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    api = fake_bot_api
    log = tmp_path / "bot.log"
    async with FakeKie() as kie:
        kie.set_outcome("veo3_fast", Outcome(never_finish=True))
        env = bot_env(api, kie, tmp_path)
        old = await start_bot(env, log)
        try:
            mark = await say(api, USER, "/start")
            await api.wait_for_text(USER, "Hi, Test", after=mark, timeout=30)
            data = await generate(api, USER, "video", "veo3-fast", "a storm")
            mark = await confirm(api, USER, data)
            await api.wait_for_text(USER, "generating", after=mark, timeout=WAIT)
        finally:
            assert await stop_bot(old) == 0
        (task_id,) = kie.tasks
        kie.finish(task_id)
        mark = api.sent_count
        # Paid while no instance polls: must not be dropped when the next one starts.
        api.inject_successful_payment(USER, "topup:s50:50", 50, "paid-during-deploy")
        new = await start_bot(env, log)
        try:
            await api.wait_for("sendVideo", chat_id=USER, after=mark, timeout=30)
            await api.wait_for_text(USER, "Veo 3 Fast: done", after=mark, timeout=WAIT)
            await api.wait_for_text(USER, "Payment received: +50", after=mark, timeout=WAIT)
            mark = await say(api, USER, "/balance")
            await api.wait_for_text(USER, "Your balance: 90", after=mark, timeout=WAIT)
        finally:
            assert await stop_bot(new) == 0
    assert len([s for s in api.sent(USER) if s.method == "sendVideo"]) == 1
    assert len(kie.created()) == 1
    text = log.read_text()
    assert api.token.split(":", 1)[1] not in text
    assert kie.api_key not in text
    assert "resumed 1 unfinished generation(s)" in text
