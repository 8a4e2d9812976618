"""getUpdates, offsets, the 409 Conflict rules and the webhook methods, over raw HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fake_helpers import api_call, wait_until

from safe_polling.testing import FakeBotAPI

OTHER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


async def call(http: httpx.AsyncClient, token: str, method: str, **params: Any) -> Any:
    response = await http.post(f"/bot{token}/{method}", json=params)
    body = response.json()
    assert response.status_code == (200 if body["ok"] else body["error_code"])
    return body


async def updates(http: httpx.AsyncClient, token: str, **params: Any) -> list[dict[str, Any]]:
    body = await call(http, token, "getUpdates", **params)
    result: list[dict[str, Any]] = body["result"]
    return result


def polling(api: FakeBotAPI, count: int = 1) -> bool:
    return api.stats.for_token(api.token).current_get_updates == count


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    # timeout=50: if the fake did not wake the poll, the 10 s bound below would fail the test.
    task = api_call(http, fake_bot_api.token, "getUpdates", timeout=50)
    await wait_until(lambda: polling(fake_bot_api))
    assert not task.done()
    update = fake_bot_api.inject_message(42, "hello")
    response = await asyncio.wait_for(task, 10)
    assert response.json()["result"] == [update]


async def test_long_poll_times_out_empty(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    assert await updates(http, fake_bot_api.token, timeout=1) == []
    assert fake_bot_api.stats.get_updates_calls == 1


async def test_updates_stay_until_confirmed_by_offset(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    token = fake_bot_api.token
    first = fake_bot_api.inject_message(1, "a")
    second = fake_bot_api.inject_message(1, "b")
    assert await updates(http, token) == [first, second]
    assert await updates(http, token) == [first, second]  # not confirmed yet
    assert await updates(http, token, offset=first["update_id"] + 1) == [second]
    assert await updates(http, token, offset=second["update_id"] + 1) == []
    stats = fake_bot_api.stats.for_token(token)
    assert stats.confirmed_offset == second["update_id"] + 1
    assert stats.pending_count == 0
    # An offset far in the future confirms everything but does not hide later updates.
    await updates(http, token, offset=10**6)
    third = fake_bot_api.inject_message(1, "c")
    assert await updates(http, token) == [third]


async def test_negative_offset_keeps_only_the_last_updates(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    injected = [fake_bot_api.inject_message(1, str(i)) for i in range(4)]
    assert await updates(http, fake_bot_api.token, offset=-2) == injected[2:]
    assert await updates(http, fake_bot_api.token) == injected[2:]  # earlier ones forgotten


@pytest.mark.parametrize(("limit", "expected"), [(2, 2), (0, 1), (-5, 1), (1000, 100)])
async def test_limit_is_clamped_to_1_100(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI, limit: int, expected: int
) -> None:
    for i in range(101):
        fake_bot_api.inject_message(1, str(i))
    result = await updates(http, fake_bot_api.token, limit=limit)
    assert len(result) == expected


async def test_allowed_updates_filter_and_are_remembered(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    token = fake_bot_api.token
    await updates(http, token, allowed_updates=["callback_query"])
    dropped = fake_bot_api.inject_message(1, "not wanted")
    assert "update_id" not in dropped
    fake_bot_api.inject_message(2, "/start")
    fake_bot_api.inject_message(2, "/start")  # remembered: still filtered without the param
    keyboard = {"inline_keyboard": [[{"text": "Press", "callback_data": "pressed"}]]}
    await call(http, token, "sendMessage", chat_id=2, text="menu", reply_markup=keyboard)
    query = fake_bot_api.inject_callback_query(2, "pressed")
    assert await updates(http, token) == [query]
    # An empty list restores the default (all but chat_member and reactions).
    await updates(http, token, allowed_updates=[])
    message = fake_bot_api.inject_message(1, "wanted again")
    fake_bot_api.add_group(-100500, "Club")
    joined = fake_bot_api.set_member_status(-100500, 3, "member")
    assert "update_id" not in joined  # chat_member is not delivered by default
    member = fake_bot_api.inject_raw(joined)  # raw updates skip the filter
    got = await updates(http, token, offset=query["update_id"] + 1)
    assert got == [message, member]


async def test_newer_get_updates_terminates_the_older_one(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    token = fake_bot_api.token
    older = api_call(http, token, "getUpdates", timeout=30)
    await wait_until(lambda: polling(fake_bot_api))
    newer = api_call(http, token, "getUpdates", timeout=30)
    response = await asyncio.wait_for(older, 10)
    assert response.status_code == 409
    assert response.json() == {"ok": False, "error_code": 409, "description": OTHER}
    assert not newer.done()  # the newer one keeps polling ...
    update = fake_bot_api.inject_message(3, "hi")
    assert (await asyncio.wait_for(newer, 10)).json()["result"] == [update]  # ... and gets it
    stats = fake_bot_api.stats
    assert stats.conflicts == {"other_get_updates": 1}
    assert stats.max_concurrent_get_updates == 2
    assert stats.for_token(token).max_concurrent_get_updates == 2
    assert stats.current_get_updates == 0


async def test_a_short_poll_also_terminates_the_waiting_one(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    older = api_call(http, fake_bot_api.token, "getUpdates", timeout=30)
    await wait_until(lambda: polling(fake_bot_api))
    assert await updates(http, fake_bot_api.token, timeout=0) == []
    assert (await asyncio.wait_for(older, 10)).json()["description"] == OTHER


async def test_conflicts_are_throttled_to_one_immediate_per_delay() -> None:
    # A 60 s throttle: the first 409 must come at once, the second must still be held.
    async with (
        FakeBotAPI(conflict_delay=60.0) as api,
        httpx.AsyncClient(base_url=api.url, timeout=90) as http,
    ):
        first = api_call(http, api.token, "getUpdates", timeout=50)
        await wait_until(lambda: polling(api))
        second = api_call(http, api.token, "getUpdates", timeout=50)
        assert (await asyncio.wait_for(first, 10)).status_code == 409
        await wait_until(lambda: polling(api))
        third = api_call(http, api.token, "getUpdates", timeout=50)
        await wait_until(lambda: api.stats.conflicts_total == 2)
        await asyncio.sleep(1.0)  # an unthrottled 409 would have arrived long before
        assert not second.done()
        assert not third.done()
        second.cancel()
        third.cancel()


async def test_held_conflict_is_answered_after_the_delay() -> None:
    async with (
        FakeBotAPI(conflict_delay=0.3) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30) as http,
    ):
        first = api_call(http, api.token, "getUpdates", timeout=20)
        await wait_until(lambda: polling(api))
        second = api_call(http, api.token, "getUpdates", timeout=20)
        await wait_until(lambda: first.done())
        await wait_until(lambda: polling(api))
        third = api_call(http, api.token, "getUpdates", timeout=20)
        response = await asyncio.wait_for(second, 10)
        assert response.status_code == 409
        assert response.json()["description"] == OTHER
        update = api.inject_message(1, "x")
        assert (await asyncio.wait_for(third, 10)).json()["result"] == [update]
        assert api.stats.conflicts == {"other_get_updates": 2}


async def test_get_updates_while_webhook_is_active_is_409(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.set_webhook("https://example.invalid/hook")
    body = await call(http, fake_bot_api.token, "getUpdates")
    assert body == {"ok": False, "error_code": 409, "description": WEBHOOK_ACTIVE}
    assert fake_bot_api.stats.conflicts == {"webhook_active": 1}
    assert fake_bot_api.stats.get_updates_calls == 1


async def test_set_webhook_terminates_the_waiting_poll(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    token = fake_bot_api.token
    waiting = api_call(http, token, "getUpdates", timeout=30)
    await wait_until(lambda: polling(fake_bot_api))
    body = await call(http, token, "setWebhook", url="https://example.invalid:8443/hook")
    assert body == {"ok": True, "result": True, "description": "Webhook was set"}
    response = await asyncio.wait_for(waiting, 10)
    assert response.status_code == 409
    assert response.json()["description"] == "Conflict: terminated by setWebhook request"
    assert fake_bot_api.stats.conflicts == {"set_webhook": 1}


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("http://example.invalid/hook", "Bad Request: bad webhook: HTTPS url must be provided"),
        ("https://example.invalid:9000/", "Bad Request: bad webhook: Webhook can be set up only"),
    ],
)
async def test_set_webhook_validates_the_url(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI, url: str, description: str
) -> None:
    body = await call(http, fake_bot_api.token, "setWebhook", url=url)
    assert body["description"].startswith(description)


async def test_delete_webhook_keeps_or_drops_pending_updates(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    token = fake_bot_api.token
    fake_bot_api.set_webhook("https://example.invalid/hook")
    fake_bot_api.inject_message(1, "a")
    body = await call(http, token, "deleteWebhook")
    assert body == {"ok": True, "result": True, "description": "Webhook was deleted"}
    assert len(fake_bot_api.pending_updates()) == 1
    body = await call(http, token, "deleteWebhook", drop_pending_updates=False)
    assert body["description"] == "Webhook is already deleted"
    assert len(fake_bot_api.pending_updates()) == 1
    await call(http, token, "deleteWebhook", drop_pending_updates=True)
    assert fake_bot_api.pending_updates() == []
    assert await updates(http, token) == []
    later = fake_bot_api.inject_message(1, "b")
    assert await updates(http, token) == [later]
    calls = fake_bot_api.stats.for_token(token).delete_webhook_calls
    assert calls == (None, False, True)


async def test_webhook_info(http: httpx.AsyncClient, fake_bot_api: FakeBotAPI) -> None:
    token = fake_bot_api.token
    fake_bot_api.inject_message(1, "a")
    info = (await call(http, token, "getWebhookInfo"))["result"]
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 1}
    await call(
        http,
        token,
        "setWebhook",
        url="https://example.invalid/hook",
        max_connections=10,
        allowed_updates=["message"],
    )
    fake_bot_api.set_webhook_error("Wrong response from the webhook: 502 Bad Gateway")
    info = (await call(http, token, "getWebhookInfo"))["result"]
    assert info["url"] == "https://example.invalid/hook"
    assert info["max_connections"] == 10
    assert info["allowed_updates"] == ["message"]
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Wrong response from the webhook: 502 Bad Gateway"
    assert isinstance(info["last_error_date"], int)


async def test_concurrency_counters_per_token_and_overall(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    other = fake_bot_api.make_token()
    first = api_call(http, fake_bot_api.token, "getUpdates", timeout=30)
    second = api_call(http, other, "getUpdates", timeout=30)
    await wait_until(lambda: fake_bot_api.stats.current_get_updates == 2)
    fake_bot_api.inject_message(1, "a")
    fake_bot_api.inject_message(1, "b", token=other)
    await asyncio.wait_for(asyncio.gather(first, second), 10)
    stats = fake_bot_api.stats
    assert stats.max_concurrent_get_updates == 2  # two bots polling at once is fine ...
    assert stats.for_token(fake_bot_api.token).max_concurrent_get_updates == 1
    assert stats.for_token(other).max_concurrent_get_updates == 1
    assert stats.conflicts_total == 0  # ... and no conflict
    assert stats.get_updates_calls == 2
    fake_bot_api.reset_stats()
    after = fake_bot_api.stats
    assert (after.get_updates_calls, after.max_concurrent_get_updates) == (0, 0)
    assert after.for_token(fake_bot_api.token).pending_count == 1  # state is kept


async def test_disconnected_poller_stops_counting(fake_bot_api: FakeBotAPI) -> None:
    async with httpx.AsyncClient(base_url=fake_bot_api.url, timeout=30) as http:
        task = api_call(http, fake_bot_api.token, "getUpdates", timeout=30)
        await wait_until(lambda: polling(fake_bot_api))
        task.cancel()
    await wait_until(lambda: polling(fake_bot_api, 0))
    assert fake_bot_api.calls[-1].status == 499


async def test_an_offset_far_past_the_newest_update_is_ignored(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    # telegram-bot-api: more than 10 past the next id is "in the future"; the queue is read
    # from its head and nothing is confirmed, as if no offset had been given.
    token = fake_bot_api.token
    first = fake_bot_api.inject_message(1, "a")
    second = fake_bot_api.inject_message(1, "b")
    future = second["update_id"] + 1 + 11
    assert await updates(http, token, offset=future) == [first, second]
    assert await updates(http, token) == [first, second]
    assert fake_bot_api.stats.for_token(token).confirmed_offset == 0


async def test_an_offset_just_past_the_newest_update_drops_the_next_ones(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    # Up to 10 past the next id is accepted as given: everything is confirmed, and updates that
    # get ids below the offset later are dropped unseen (an off-by-one confirms the future).
    token = fake_bot_api.token
    seen = fake_bot_api.inject_message(1, "a")
    offset = seen["update_id"] + 2  # one too far
    assert await updates(http, token, offset=offset) == []
    lost = fake_bot_api.inject_message(1, "lost")
    kept = fake_bot_api.inject_message(1, "kept")
    assert lost["update_id"] == offset - 1
    assert await updates(http, token, offset=offset) == [kept]
