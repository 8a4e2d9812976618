"""The simulated network round trip: per fake, per method, from the control API and the CLI.

Only lower bounds are asserted: a round trip must at least be waited, and a loaded machine can
only make it longer.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fake_helpers import api_call, wait_until

from safe_polling.testing import FakeBotAPI, spawn_fake_bot_api

ROUND_TRIP = 0.3


async def test_every_call_waits_the_round_trip_half_each_way() -> None:
    async with FakeBotAPI(conflict_delay=0.2, latency=ROUND_TRIP) as api, api.bot() as bot:
        sent_at = time.time()
        me = await bot.get_me()
        answered_at = time.time()
    assert me.username == api.username
    assert answered_at - sent_at >= ROUND_TRIP
    call = api.calls_to("getMe")[-1]  # the first one was `async with`'s initialize()
    # The server saw the call after the request's way there, and answered after the way back.
    assert call.time - sent_at >= ROUND_TRIP / 2
    assert answered_at - call.time >= ROUND_TRIP / 2
    assert api.latency == {"seconds": ROUND_TRIP, "per_method": {}}


async def test_a_long_poll_answer_comes_half_a_round_trip_after_the_update() -> None:
    async with (
        FakeBotAPI(conflict_delay=0.2, method_latency={"getUpdates": ROUND_TRIP}) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30.0) as http,
    ):
        sent_at = time.time()
        poll = api_call(http, api.token, "getUpdates", timeout=10)
        await wait_until(lambda: api.stats.current_get_updates == 1)
        assert time.time() - sent_at >= ROUND_TRIP / 2  # not polling before the way there
        injected_at = time.time()
        update = api.inject_message(7, "hi")
        response = await asyncio.wait_for(poll, 10)
        assert time.time() - injected_at >= ROUND_TRIP / 2  # the answer's way back
    assert response.json() == {"ok": True, "result": [update]}


async def test_a_method_round_trip_wins_over_the_default_and_can_change() -> None:
    async with FakeBotAPI(latency=0.0, method_latency={"GETME": ROUND_TRIP}) as api:
        assert api.latency == {"seconds": 0.0, "per_method": {"getme": ROUND_TRIP}}
        api.set_latency(0.05)
        api.set_latency(0.0, method="getMe")
        assert api.latency == {"seconds": 0.05, "per_method": {"getme": 0.0}}
        api.set_latency(ROUND_TRIP, method="deleteWebhook")
        async with api.bot() as bot:
            started = time.monotonic()
            assert await bot.delete_webhook() is True
            assert time.monotonic() - started >= ROUND_TRIP


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
async def test_a_negative_or_endless_round_trip_is_refused_in_one_line(bad: float) -> None:
    with pytest.raises(ValueError, match=r"^latency must be a finite number of seconds >= 0"):
        FakeBotAPI(latency=bad)
    async with FakeBotAPI() as api:
        with pytest.raises(ValueError, match=r"^latency of getMe must be a finite number"):
            api.set_latency(bad, method="getMe")
        assert api.latency == {"seconds": 0.0, "per_method": {}}


async def test_a_fake_process_takes_round_trips_on_its_command_line_and_control_api() -> None:
    async with spawn_fake_bot_api(
        conflict_delay=0.2, latency=0.01, method_latency={"getMe": ROUND_TRIP}
    ) as client:
        assert await client.latency() == {"seconds": 0.01, "per_method": {"getme": ROUND_TRIP}}
        async with client.application_builder().build().bot as bot:
            started = time.monotonic()
            await bot.get_me()
            assert time.monotonic() - started >= ROUND_TRIP
        await client.set_latency(0.0, method="getMe")
        await client.set_latency(0.02)
        assert await client.latency() == {"seconds": 0.02, "per_method": {"getme": 0.0}}
        with pytest.raises(RuntimeError, match="control API latency: 400"):
            await client.set_latency(-1)
