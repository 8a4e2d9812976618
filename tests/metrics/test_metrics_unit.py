"""The metrics module in-process: labels stay bounded, and the extra is optional."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime

import httpx
import pytest
from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.ext import (
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseHandler,
    ConversationHandler,
    TypeHandler,
)

from safe_polling import HealthServer, metrics_registry
from safe_polling import _metrics as metrics
from safe_polling._status import PollingStatus
from safe_polling.testing import FakeBotAPI


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


class _Replier:
    async def __call__(self, update: object, context: object) -> None: ...

    async def on_start(self, update: object, context: object) -> None: ...


async def _echo(update: object, context: object, *, prefix: str = "") -> None: ...


def _lambda_for(user_id: int) -> object:
    return lambda update, context: user_id


def test_handler_label_is_the_code_name_however_the_callback_is_made() -> None:
    replier = _Replier()
    here = __name__
    assert metrics.handler_label(_echo) == f"{here}._echo"
    assert metrics.handler_label(functools.partial(_echo, prefix="a")) == f"{here}._echo"
    assert metrics.handler_label(replier.on_start) == f"{here}._Replier.on_start"
    assert metrics.handler_label(replier) == f"{here}._Replier"
    made = {metrics.handler_label(_lambda_for(user_id)) for user_id in (1, 2, 3)}
    assert made == {f"{here}._lambda_for.<locals>.<lambda>"}  # one name however many


def test_handler_names_made_from_data_stop_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    active = metrics_registry() and metrics._metrics
    assert active is not None
    monkeypatch.setattr(active, "handler_labels", set())
    monkeypatch.setattr(metrics, "MAX_HANDLER_LABELS", 3)

    def made_for(user_id: int) -> object:
        async def callback(update: object, context: object) -> None: ...

        callback.__qualname__ = f"reply_to_{user_id}"  # a name from data: unbounded
        return callback

    labels = [active.label_for(made_for(n)) for n in range(5)]
    assert labels == [f"{__name__}.reply_to_{n}" for n in range(3)] + ["other", "other"]
    assert active.label_for(made_for(1)) == f"{__name__}.reply_to_1"  # known: kept


def _handler_count(handler: str) -> float:
    return sample("safe_polling_handler_duration_seconds_count", handler=handler)


async def test_each_handler_is_timed_by_name_conversation_states_and_late_ones_too() -> None:
    async def begin(update: object, context: object) -> int:
        return 1

    async def later(update: object, context: object) -> None:
        raise ApplicationHandlerStop

    where = f"{__name__}.test_each_handler_is_timed_by_name_conversation_states_and_late_ones_too"
    names = {"begin": f"{where}.<locals>.begin", "later": f"{where}.<locals>.later"}
    before = {key: _handler_count(name) for key, name in names.items()}
    async with FakeBotAPI() as api:
        app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
        conversation = ConversationHandler(
            entry_points=[TypeHandler(Update, begin)], states={1: []}, fallbacks=[]
        )
        app.add_handler(conversation)
        await app.initialize()
        metrics.install_metering(app)
        metrics.install_metering(app)  # idempotent: one wrapper, one patch
        try:
            assert isinstance(app.update_processor, metrics.MeteredUpdateProcessor)
            assert not isinstance(app.update_processor.inner, metrics.MeteredUpdateProcessor)
            app.add_handler(TypeHandler(Update, later), group=1)  # after the start
            chat = Chat(id=918273645, type="private")
            user = User(id=918273645, first_name="A", is_bot=False)
            message = Message(1, datetime.now(UTC), chat, from_user=user, text="hi")
            await app.process_update(Update(1, message=message))
        finally:
            metrics.remove_metering(app)
            await app.shutdown()
        assert BaseHandler.handle_update is metrics._handle_update  # the patch is gone
        after = {key: _handler_count(name) for key, name in names.items()}
        assert {key: after[key] - before[key] for key in names} == {"begin": 1, "later": 1}
        await app.initialize()
        await app.process_update(Update(2, message=message))  # unmetered: not counted
        await app.shutdown()
    assert _handler_count(names["later"]) == after["later"]
    assert "918273645" not in metrics_registry_text()


def metrics_registry_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics_registry()).decode()


def test_a_worker_that_takes_the_lease_counts_a_term_and_its_wait() -> None:
    terms = sample("safe_polling_lease_terms_total")
    waits = sample("safe_polling_lease_acquire_wait_seconds_count")
    lost = sample("safe_polling_lease_lost_total")
    status = PollingStatus(version="x")
    status.set_role("worker")
    assert sample("safe_polling_role", role="worker") == 1
    assert sample("safe_polling_role", role="starting") == 0
    status.set_role("leader")
    assert sample("safe_polling_role", role="worker") == 0
    status.set_role("worker")  # lost the lease: back to working the queue only
    assert sample("safe_polling_role", role="worker") == 1
    assert sample("safe_polling_lease_terms_total") == terms + 1
    assert sample("safe_polling_lease_acquire_wait_seconds_count") == waits + 1
    assert sample("safe_polling_lease_lost_total") == lost + 1
