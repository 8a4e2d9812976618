"""The metrics module in-process: labels stay bounded, and the extra is optional."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from telegram import CallbackQuery, Chat, Message, Update, User

from safe_polling import HealthServer, metrics_registry
from safe_polling import _metrics as metrics
from safe_polling._status import PollingStatus


@pytest.fixture
def without_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if prometheus_client were not installed (looked for, not found)."""
    monkeypatch.setattr(metrics, "_looked", True)
    monkeypatch.setattr(metrics, "_metrics", None)


def sample(name: str, **labels: str) -> float:
    return metrics_registry().get_sample_value(name, labels) or 0.0


def test_update_type_is_the_bot_api_field_never_an_id() -> None:
    user = User(id=42, first_name="A", is_bot=False)
    query = Update(7, callback_query=CallbackQuery("q1", user, chat_instance="c"))
    assert metrics._update_type(query) == "callback_query"
    assert metrics._update_type(Update(8)) == "other"
    assert metrics._update_type("a custom update") == "other"
    chat = Chat(id=-100123, type="supergroup")
    message = Message(5, datetime.now(UTC), chat, from_user=user, text="hi")
    assert metrics._update_type(Update(9, message=message)) == "message"


def test_role_changes_count_terms_losses_and_the_standby_wait() -> None:
    terms = sample("safe_polling_lease_terms_total")
    lost = sample("safe_polling_lease_lost_total")
    waits = sample("safe_polling_lease_acquire_wait_seconds_count")
    status = PollingStatus(version="x")
    status.set_role("standby")
    assert sample("safe_polling_role", role="standby") == 1
    status.set_role("leader")
    status.set_role("standby")  # lost the lease
    status.set_role("leader")
    status.set_role("stopping")
    assert sample("safe_polling_role", role="stopping") == 1
    assert sample("safe_polling_role", role="leader") == 0
    assert sample("safe_polling_lease_terms_total") == terms + 2
    assert sample("safe_polling_lease_lost_total") == lost + 1
    assert sample("safe_polling_lease_acquire_wait_seconds_count") == waits + 2


async def test_get_updates_outcomes_by_kind() -> None:
    async def answer(code: int, payload: bytes = b"{}") -> tuple[int, bytes]:
        return code, payload

    async def network_down() -> tuple[int, bytes]:
        raise OSError("unreachable")

    name = "safe_polling_get_updates_total"
    before = {k: sample(name, outcome=k) for k in ("ok", "conflict", "http_error", "network")}
    fetched = sample("safe_polling_updates_fetched_total")
    body = b'{"ok":true,"result":[{"update_id":1,"message":{"text":"\\"update_id\\": 5"}},'
    body += b'{"update_id": 2}]}'
    await metrics.get_updates_call(answer(200, body))
    await metrics.get_updates_call(answer(409))
    await metrics.get_updates_call(answer(502))
    with pytest.raises(OSError, match="unreachable"):
        await metrics.get_updates_call(network_down())
    after = {k: sample(name, outcome=k) for k in before}
    assert {k: after[k] - before[k] for k in before} == dict.fromkeys(before, 1)
    assert sample("safe_polling_updates_fetched_total") == fetched + 2  # not the quoted one


async def test_metrics_path_names_the_extra_when_prometheus_client_is_missing(
    without_prometheus: None,
) -> None:
    with pytest.raises(ModuleNotFoundError, match=r"safe-polling\[metrics\]"):
        metrics_registry()
    status = PollingStatus(version="x")
    async with HealthServer(status, port=0, host="127.0.0.1") as server, httpx.AsyncClient() as c:
        response = await c.get(f"http://127.0.0.1:{server.port}/metrics")
        health = await c.get(f"http://127.0.0.1:{server.port}/healthz")
    assert response.status_code == 501
    assert response.text == f"{metrics.INSTALL_HINT}\n"
    assert health.status_code == 503  # /healthz unchanged: "starting"
    # Nothing is recorded and nothing breaks at the instrumentation points.
    PollingStatus(version="x").set_role("leader")
    assert await metrics.get_updates_call(asyncio.sleep(0, (200, b"{}"))) == (200, b"{}")


async def test_metrics_path_answers_head_and_refuses_post() -> None:
    status = PollingStatus(version="x")
    async with HealthServer(status, port=0, host="127.0.0.1") as server, httpx.AsyncClient() as c:
        url = f"http://127.0.0.1:{server.port}/metrics"
        head = await c.head(url)
        post = await c.post(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) > 0
    assert post.status_code == 405


def test_queue_stats_become_gauges() -> None:
    from safe_polling.queue import QueueStats

    metrics.queue_stats(QueueStats(7, 12.5, 3, 40, 1))
    assert sample("safe_polling_queue_backlog") == 7
    assert sample("safe_polling_queue_oldest_unhandled_age_seconds") == 12.5
    assert sample("safe_polling_queue_partitions_owned") == 3
    assert sample("safe_polling_queue_dead_letters") == 1
    metrics.queue_stats(QueueStats(0, 0.0, 4, 41, 1))
    assert sample("safe_polling_queue_backlog") == 0
    assert sample("safe_polling_queue_partitions_owned") == 4
