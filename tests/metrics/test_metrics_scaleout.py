"""``GET /metrics`` scraped from two scale-out replicas sharing a Redis queue.

Real replica processes of ``_metrics_bot.py``: the fake Bot API in the test, real Redis
(queue and lease) and real PostgreSQL (delivery records). The figures checked are the
ones only scale-out has, read from the Prometheus text the processes serve as they move:
roles (leader and worker), partitions owned, queue backlog and the age of its oldest
update, updates handled per replica and handler durations, then a handover.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.metrics._scrape import Bot, Samples, role, value

from safe_polling.testing import FakeBotAPI

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

SLOW = 1.0  # seconds each update's handler takes
CHATS = [918270000 + n for n in range(16)]  # enough that both replicas own some
PER_CHAT = 3  # in one chat, one at a time: the backlog lasts about PER_CHAT * SLOW
HANDLED = "safe_polling_updates_handled_total"
OWNED = "safe_polling_queue_partitions_owned"
BACKLOG = "safe_polling_queue_backlog"
OLDEST = "safe_polling_queue_oldest_unhandled_age_seconds"
ON_SLOW = "__main__.on_slow"


@pytest.fixture
def scale_out_env(replica_env: dict[str, str], pg_url: str) -> dict[str, str]:
    """The replicas' queue and lease, at-least-once records in PostgreSQL, a slow handler."""
    return {
        **replica_env,
        "SAFE_POLLING_DELIVERY": "at-least-once",
        "DATABASE_URL": pg_url,
        "SLOW_SECONDS": str(SLOW),
    }


def handled(samples: Samples) -> float:
    return value(samples, HANDLED, update_type="message")


async def test_scale_out_metrics_follow_the_queue_the_workers_and_a_handover(
    tmp_path: Path, bots: list[Bot], scale_out_env: dict[str, str]
) -> None:
    total = len(CHATS) * PER_CHAT
    async with FakeBotAPI() as api:
        poller = Bot(api, tmp_path, "poller", **scale_out_env)
        bots.append(poller)
        await poller.wait_metric(lambda s: role(s, "leader"), "the first to poll", timeout=40)
        worker = Bot(api, tmp_path, "worker", **scale_out_env)
        bots.append(worker)
        # The second replica works the queue without the lease, and shares the partitions.
        for bot in (poller, worker):
            await bot.wait_metric(lambda s: value(s, OWNED) == 8, "8 of 16 each", timeout=40)
        idle = await worker.wait_metric(lambda s: role(s, "worker"), "the worker role")
        assert not role(idle, "standby")
        assert not role(idle, "leader")
        assert value(idle, "safe_polling_updates_fetched_total") == 0
        assert value(idle, BACKLOG) == value(idle, OLDEST) == 0

        for seq in range(PER_CHAT):
            for chat in CHATS:
                api.inject_message(chat, f"slow {seq}")
        busy = await poller.wait_metric(
            lambda s: value(s, BACKLOG) >= 1 and value(s, OLDEST) > 0, "a backlog"
        )
        assert value(busy, BACKLOG) <= total
        # Drained: every update handled once, by both replicas, each timed by its handler.
        samples: dict[str, Samples] = {}
        for name, bot in (("poller", poller), ("worker", worker)):
            samples[name] = await bot.wait_metric(
                lambda s: value(s, BACKLOG) == 0 and value(s, OLDEST) == 0, "an empty queue"
            )
        await poller.wait_metric(
            lambda s: handled(s) + handled(samples["worker"]) == total, "all handled"
        )
        after = {"poller": (await poller.scrape())[1], "worker": (await worker.scrape())[1]}
        assert handled(after["poller"]) + handled(after["worker"]) == total
        assert handled(after["poller"]) > 0
        assert handled(after["worker"]) > 0
        count = "safe_polling_handler_duration_seconds_count"
        assert sum(value(s, count, handler=ON_SLOW) for s in after.values()) == total
        seconds = sum(
            value(s, "safe_polling_handler_duration_seconds_sum", handler=ON_SLOW)
            for s in after.values()
        )
        assert seconds >= total * SLOW  # each timed to its end, not only its dispatch
        fetched = "safe_polling_updates_fetched_total"
        assert value(after["poller"], fetched) == total
        assert value(after["worker"], fetched) == 0

        # The poller leaves: the worker takes the lease and every partition.
        poller.proc.send_signal(signal.SIGTERM)
        assert poller.proc.wait(40) == 0, poller.output()
        took_over = await worker.wait_metric(
            lambda s: role(s, "leader") and value(s, OWNED) == 16, "the takeover", timeout=40
        )
        assert not role(took_over, "worker")
        assert value(took_over, "safe_polling_lease_terms_total") == 1
        assert value(took_over, "safe_polling_lease_acquire_wait_seconds_count") == 1
        api.inject_message(CHATS[0], "after the handover")
        await worker.wait_metric(
            lambda s: handled(s) == handled(after["worker"]) + 1, "the next update"
        )
        text, last = await worker.scrape()
    assert api.stats.max_concurrent_get_updates == 1
    assert api.token.split(":", 1)[1] not in text
    labels = {label for _, pairs in last for _, label in pairs}
    assert not {label for label in labels if str(CHATS[0])[:5] in label}  # no chat or user id
    assert {"leader", "worker", "message", ON_SLOW, "__main__.on_text"} <= labels
