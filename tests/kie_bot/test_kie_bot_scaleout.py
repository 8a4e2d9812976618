"""The KIE bot scaled out, unchanged: two ``bot_kie.py`` workers behind one poller.

Real processes of the real entry point with ``SAFE_POLLING_QUEUE`` on real Redis
(queue and lease) and ``DATABASE_URL`` on real PostgreSQL; the fake Bot API and the
fake KIE server on 127.0.0.1. Twelve users, each in a partition of its own, ask
for generations at once: some succeed, some fail at KIE, some are refused by KIE,
some keep running. One worker gets SIGTERM while its generations still run; the
other picks them up. Afterwards every generation was delivered or refunded exactly
once, charged once, never created twice at KIE, and both workers ran some.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from kie_harness import BOT_SCRIPT, WAIT, confirm, generate, process_env, say
from tests.delivery.conftest import BotProcess, bot_process, eventually, pg_url
from tests.scaleout._checks import ledger_counts

from kie_bot.kie.fake_server import FakeKie, Outcome
from safe_polling.db import open_balance_store
from safe_polling.queue import DEFAULT_PARTITIONS, partition_of_chat
from safe_polling.testing import FakeBotAPI

__all__ = ["pg_url"]  # a fixture, imported to be found here

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres, pytest.mark.timeout(240)]

FREE = 100
# model id -> (category, price, what the fake KIE does with it)
MODELS = {
    "nano-banana": ("image", 4, Outcome()),
    "seedream": ("image", 5, Outcome(fail="content policy")),
    "bd-seedream": ("image", 5, Outcome(create_code=402, http_status=402)),
    "veo3-fast": ("video", 60, Outcome(never_finish=True)),
}
SLUGS = {
    "nano-banana": "google/nano-banana",
    "seedream": "bytedance/seedream-v4-text-to-image",
    "bd-seedream": "bytedance/seedream",
    "veo3-fast": "veo3_fast",
}
PLAN = ["nano-banana"] * 4 + ["seedream"] * 2 + ["bd-seedream"] * 2 + ["veo3-fast"] * 6
TITLES = {"nano-banana": "Nano Banana", "veo3-fast": "Veo 3 Fast"}
STARTED = re.compile(r"generation ([0-9a-f]{32}) started")
STARTUP = 60.0  # two Python processes importing PTB on a loaded 2-core machine


def users_in_distinct_partitions(count: int) -> list[int]:
    """*count* user ids, no two in one partition: more than half of the partitions, so
    whatever the split, both workers own some of these users."""
    users: dict[int, int] = {}
    candidate = 7000
    while len(users) < count:
        users.setdefault(partition_of_chat(candidate, DEFAULT_PARTITIONS), candidate)
        candidate += 1
    return list(users.values())


@pytest.fixture
async def fake_kie_of_plan() -> AsyncIterator[FakeKie]:
    async with FakeKie() as kie:
        for model, (_, _, outcome) in MODELS.items():
            kie.set_outcome(SLUGS[model], outcome)
        yield kie


async def order(api: FakeBotAPI, user: int, model: str) -> str:
    """/start, then the wizard and Confirm; return the generation id."""
    mark = await say(api, user, "/start")
    await api.wait_for_text(user, "Hi, Test", after=mark, timeout=WAIT)
    category = MODELS[model][0]
    option = None if model == "bd-seedream" else 0
    data = await generate(api, user, category, model, f"a test for {user}", option=option)
    await confirm(api, user, data)
    return data.rsplit(":", 1)[1]


def started_by(worker: BotProcess) -> set[str]:
    """The generations this worker started (its log)."""
    return set(STARTED.findall(worker.output))


async def states_and_balances(url: str, users: list[int]) -> tuple[dict[str, str], dict[int, int]]:
    async with open_balance_store(url) as store:
        rows = await store.fetch_all("SELECT id, state FROM kie_generations")
        balances = {u: await store.get_user_balance_async(u) for u in users}
    return {str(r["id"]): str(r["state"]) for r in rows}, balances


async def test_two_workers_share_generations_and_a_sigterm_loses_none(
    pg_url: str, replica_env: dict[str, str], fake_kie_of_plan: FakeKie
) -> None:
    kie = fake_kie_of_plan
    users = users_in_distinct_partitions(len(PLAN))
    model_of = dict(zip(users, PLAN, strict=True))
    async with FakeBotAPI() as api, AsyncExitStack() as stack:
        env = process_env(api, kie, pg_url, KIE_POLL_INTERVAL="0.1", **replica_env)
        workers = [
            await stack.enter_async_context(
                bot_process(api.base_url, api.token, pg_url, script=BOT_SCRIPT, **env)
            )
            for _ in range(2)
        ]
        for worker in workers:
            await worker.wait_for_line("Partitions owned here: 8 of 16", timeout=STARTUP)

        gen_ids = await asyncio.gather(*(order(api, u, model_of[u]) for u in users))
        gen_of = dict(zip(users, gen_ids, strict=True))
        running = {gen_of[u] for u in users if model_of[u] == "veo3-fast"}
        await eventually(lambda: len(kie.tasks) == len(PLAN) - 2, timeout=WAIT)  # 2 refused
        for user in users:  # a generation in progress never holds up its user's chat
            if model_of[user] == "veo3-fast":
                mark = await say(api, user, "/balance")
                await api.wait_for_text(user, f"balance: {FREE - 60}", after=mark, timeout=WAIT)
        await eventually(
            lambda: started_by(workers[0]) | started_by(workers[1]) == set(gen_ids), timeout=WAIT
        )
        assert all(started_by(w) for w in workers)  # both ran generations

        # SIGTERM (a deploy, a scale-in) to the worker running more of the long ones.
        stopped, kept = sorted(workers, key=lambda w: len(started_by(w) & running), reverse=True)
        moved = started_by(stopped) & running
        assert len(moved) >= 3
        assert await stopped.signal_and_wait(signal.SIGTERM) == 0
        await kept.wait_for_line(f"picked up {len(moved)} unfinished generation(s)", timeout=WAIT)

        # KIE finishes the long ones: one of those moved fails, the others succeed.
        failing = min(moved)
        for task_id, task in kie.tasks.items():
            if task.model == SLUGS["veo3-fast"]:
                user = int(str(task.body["prompt"]).rsplit(" ", 1)[1])
                kie.finish(task_id, fail="boom" if gen_of[user] == failing else None)
        succeeded = {
            u for u in users if model_of[u] == "nano-banana" or gen_of[u] in running - {failing}
        }
        for user in users:
            ending = f"{TITLES[model_of[user]]}: done" if user in succeeded else "were returned"
            await api.wait_for_text(user, ending, timeout=WAIT)
        assert await kept.signal_and_wait(signal.SIGTERM) == 0
        sent = api.sent()
        conflicts = api.stats.conflicts_total

    assert conflicts == 0
    states, balances = await states_and_balances(pg_url, users)
    keys = await ledger_counts(pg_url)
    for user in users:
        gen, model = gen_of[user], model_of[user]
        price, ok = MODELS[model][1], user in succeeded
        media = [s for s in sent if s.chat_id == user and s.method in ("sendPhoto", "sendVideo")]
        refunds = [s for s in sent if s.chat_id == user and "were returned" in (s.text or "")]
        assert (len(media), len(refunds)) == ((1, 0) if ok else (0, 1)), user
        assert states[gen] == ("done" if ok else "refunded"), user
        assert keys.get(f"charge:{gen}") == 1, user
        assert keys.get(f"refund:{gen}", 0) == (0 if ok else 1), user
        assert balances[user] == (FREE - price if ok else FREE), user
    assert len(kie.created()) == len(PLAN)  # one create each, none made twice
    assert len(kie.tasks) == len(PLAN) - 2  # the two refused made no task
    # The moved generations were finished by the worker that picked them up.
    assert all(f"generation {gen} " in kept.output for gen in moved)
