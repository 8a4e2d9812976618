"""Scale-out with real replica processes: one poller, every replica a worker, through Redis.

Real PTB in each replica, the fake Bot API, real Redis (queue and lease) and real
PostgreSQL (delivery records, the bot's effects).
"""

from __future__ import annotations

import signal
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from tests.delivery.conftest import BotProcess, bot_process, eventually
from tests.scaleout._checks import assert_in_order, conversation_states, runs_by_chat

from safe_polling.testing import FakeBotAPI

BOT = Path(__file__).with_name("_bot.py")
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def done_count(api: FakeBotAPI) -> int:
    return len({s.text for s in api.sent() if s.text and s.text.startswith("done ")})


async def test_two_replicas_share_the_updates_in_each_chats_order(
    pg_url: str, replica_env: dict[str, str]
) -> None:
    chats, per_chat = [1000 + n for n in range(12)], 15
    async with FakeBotAPI() as api, AsyncExitStack() as stack:
        replicas: list[BotProcess] = []
        for _ in range(2):
            replica = await stack.enter_async_context(
                bot_process(api.base_url, api.token, pg_url, script=BOT, **replica_env)
            )
            replicas.append(replica)
        for replica in replicas:
            await replica.wait_for_line("Partitions owned here: 8 of 16", timeout=30)
        for seq in range(per_chat):
            for chat in chats:
                api.inject_message(chat, f"{chat}#{seq}")
        await eventually(lambda: done_count(api) == len(chats) * per_chat, timeout=60)
        polled = sum("Polling started successfully" in r.output for r in replicas)
        for replica in replicas:
            assert await replica.signal_and_wait(signal.SIGTERM) == 0
        runs = await runs_by_chat(pg_url)
        assert api.stats.conflicts_total == 0
    assert_in_order(runs, per_chat)
    assert await conversation_states(pg_url) == dict.fromkeys(chats, per_chat)
    all_runs = [run for chat_runs in runs.values() for run in chat_runs]
    assert len(all_runs) == len({uid for _, uid, _ in all_runs}) == len(chats) * per_chat
    assert len({pid for _, _, pid in all_runs}) == 2  # both replicas handled updates
    assert polled == 1  # one poller; the other only worked


async def test_a_replica_imports_no_driver_on_its_event_loop(
    pg_url: str, replica_env: dict[str, str]
) -> None:
    # Imported on the loop, redis.asyncio and asyncpg blocked it ~0.1 s at every start.
    script = BOT.with_name("_imports_on_loop.py")
    async with FakeBotAPI() as api, AsyncExitStack() as stack:
        replica = await stack.enter_async_context(
            bot_process(api.base_url, api.token, pg_url, script=script, **replica_env)
        )
        await replica.wait_for_line("Partitions owned here: 16 of 16", timeout=30)
        api.inject_message(1, "1#0")
        await eventually(lambda: done_count(api) == 1, timeout=30)
        assert await replica.signal_and_wait(signal.SIGTERM) == 0
    line = next(x for x in replica.output.splitlines() if x.startswith("imported on the loop:"))
    on_loop = line.split(":", 1)[1].split()
    drivers = [m for m in on_loop if m.split(".")[0] in ("redis", "asyncpg")]
    backends = [m for m in on_loop if m.endswith(("._redis", "._postgres", "._scaleout"))]
    assert (drivers, backends) == ([], []), on_loop
