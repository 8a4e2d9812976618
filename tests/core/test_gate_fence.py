"""The getUpdates gate: the lease fence, the health clock and the tracker's offset.

Real PTB ``Bot`` objects talk HTTP to the fake Bot API through the gate, so what the
fake records is what would have reached Telegram. The fence is the guarantee that a
leader which lost its lease sends no further getUpdates; these tests fail if the
fence check, or the gate closing for good after a failed check, is removed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot
from telegram.error import Conflict, NetworkError

from safe_polling import _gate
from safe_polling._delivery import DeliveryTracker, ProcessedUpdates
from safe_polling._gate import (
    BootstrapSkip,
    GetUpdatesGate,
    install_bootstrap_skip,
    install_gate,
    remove_bootstrap_skip,
    remove_gate,
)
from safe_polling._status import PollingStatus
from safe_polling.db import open_balance_store
from safe_polling.lease import LeaseLost
from safe_polling.testing import FakeBotAPI

USER = 4242


class SecondCheckFails:
    """A fence that confirms the lease once, then reports it lost on every later check."""

    def __init__(self, good_checks: int = 1) -> None:
        self.good_checks = good_checks
        self.checks = 0

    async def ensure_held(self) -> None:
        self.checks += 1
        if self.checks > self.good_checks:
            raise LeaseLost("lease lost (key gone or taken by another instance)")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(conflict_delay=0.05) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with api.bot() as the_bot:
        yield the_bot


@pytest.fixture
async def tracker(tmp_path: Path) -> AsyncIterator[DeliveryTracker]:
    async with open_balance_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}") as store:
        processed = ProcessedUpdates(store, bot_id=1)
        await processed.open()
        the_tracker = DeliveryTracker(processed)
        yield the_tracker
        await the_tracker.aclose()


def get_updates_seen(api: FakeBotAPI) -> int:
    return len(api.calls_to("getUpdates"))


async def test_a_fence_that_fails_its_second_check_stops_every_later_get_updates(
    api: FakeBotAPI, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fence = SecondCheckFails()
    gate = install_gate(bot, fence)
    first = api.inject_message(USER, "first")["update_id"]
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first]
    assert get_updates_seen(api) == 1
    assert not gate.closed

    second = api.inject_message(USER, "after the lease was lost")["update_id"]
    # The second check fails: "no updates", and Telegram is not asked (not even to
    # confirm "first", which a next leader may have to see again).
    assert await bot.get_updates(offset=first + 1, timeout=0) == ()
    assert gate.closed
    assert fence.checks == 2
    # Closed for good: no further check (it could succeed by chance) and no request.
    for _ in range(3):
        assert await bot.get_updates(offset=first + 1, timeout=0) == ()
    assert fence.checks == 2
    assert get_updates_seen(api) == 1
    # The updates stay on Telegram's side for the next leader.
    assert [u["update_id"] for u in api.pending_updates()] == [first, second]
    warnings = [r.getMessage() for r in caplog.records if r.name == "safe_polling"]
    assert warnings == [
        "🛑 Polling lease not confirmed "
        "(lease lost (key gone or taken by another instance)); no more getUpdates"
    ]


async def test_the_fence_is_asked_before_every_get_updates(api: FakeBotAPI, bot: Bot) -> None:
    fence = SecondCheckFails(good_checks=100)
    install_gate(bot, fence)
    for n in range(1, 4):
        await bot.get_updates(timeout=0)
        assert fence.checks == n
        assert get_updates_seen(api) == n


async def test_a_closed_gate_pauses_a_long_poll_instead_of_spinning(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = install_gate(bot, SecondCheckFails(good_checks=0))
    # A long poll (timeout > 0) is answered only after a pause: the Updater's loop would
    # otherwise spin on empty answers while the supervisor is stopping it.
    long_poll = asyncio.ensure_future(bot.get_updates(timeout=5))
    done, _ = await asyncio.wait({long_poll}, timeout=0.2)
    assert not done, "a closed gate answered a long poll at once"
    assert await asyncio.wait_for(long_poll, 10) == ()
    assert gate.closed
    # The confirming call Updater.stop() makes (timeout=0) is answered without the pause:
    # with a pause of a minute, it still answers within seconds.
    monkeypatch.setattr(_gate, "_CLOSED_FENCE_PAUSE", 60.0)
    assert await asyncio.wait_for(bot.get_updates(timeout=0), 10) == ()


async def test_without_a_fence_every_get_updates_goes_out(api: FakeBotAPI, bot: Bot) -> None:
    gate = install_gate(bot)
    for _ in range(3):
        await bot.get_updates(timeout=0)
    assert get_updates_seen(api) == 3
    assert not gate.closed


async def test_health_clock_is_stamped_only_by_a_successful_get_updates(
    api: FakeBotAPI, bot: Bot
) -> None:
    status = PollingStatus(version="test")
    install_gate(bot, None, status)
    await bot.get_me()  # another method: not the gate's request
    assert status.last_get_updates_ok is None
    api.fail_next("getUpdates", 502)
    with pytest.raises(NetworkError):
        await bot.get_updates(timeout=0)
    assert status.last_get_updates_ok is None, "a 502 from getUpdates stamped the clock"
    await bot.get_updates(timeout=0)
    assert status.last_get_updates_ok is not None
    assert status.get_updates_age() is not None


async def test_a_closed_gate_does_not_stamp_the_health_clock(bot: Bot) -> None:
    status = PollingStatus(version="test")
    install_gate(bot, SecondCheckFails(good_checks=0), status)
    assert await bot.get_updates(timeout=0) == ()
    assert status.last_get_updates_ok is None


async def test_the_gate_sends_the_offset_the_tracker_allows(
    api: FakeBotAPI, bot: Bot, tracker: DeliveryTracker
) -> None:
    install_gate(bot, None, None, tracker)
    first = api.inject_message(USER, "one")["update_id"]
    second = api.inject_message(USER, "two")["update_id"]
    got = await bot.get_updates(timeout=0)
    assert [u.update_id for u in got] == [first, second]
    assert api.calls_to("getUpdates")[-1].params == {"timeout": 0}  # nothing to confirm
    tracker.handled(second)  # "one" is still in its handler
    # PTB asks to confirm both; the gate confirms nothing at or past "one", and keeps
    # every other parameter as PTB sent it.
    assert await bot.get_updates(offset=second + 1, timeout=0, allowed_updates=["message"]) == ()
    assert api.calls_to("getUpdates")[-1].params == {
        "timeout": 0,
        "allowed_updates": ["message"],
        "offset": first,
    }
    assert [u["update_id"] for u in api.pending_updates()] == [first, second]
    tracker.handled(first)
    await bot.get_updates(offset=second + 1, timeout=0)
    assert api.calls_to("getUpdates")[-1].params.get("offset") == second + 1
    assert api.pending_updates() == []


async def test_a_poll_waits_while_half_of_telegrams_window_is_in_flight(
    api: FakeBotAPI, bot: Bot, tracker: DeliveryTracker
) -> None:
    install_gate(bot, None, None, tracker)
    sent = [api.inject_message(USER, f"m{n}")["update_id"] for n in range(50)]
    assert len(await bot.get_updates(timeout=0)) == 50  # all 50 now in their handlers
    polls = get_updates_seen(api)
    # Telegram answers at most 100 from the offset, which stays at the oldest of the 50:
    # polling now would mostly bring those back. The poll waits (briefly) for room.
    poll = asyncio.ensure_future(bot.get_updates(offset=sent[-1] + 1, timeout=0))
    done, _ = await asyncio.wait({poll}, timeout=0.1)
    assert not done
    assert get_updates_seen(api) == polls
    tracker.handled(sent[0])  # room again: the poll goes out at once
    await asyncio.wait_for(poll, 10)
    assert api.calls_to("getUpdates")[-1].params["offset"] == sent[1]
    for uid in sent[1:]:
        tracker.handled(uid)


async def test_a_webhook_blocking_get_updates_is_deleted_and_polling_goes_on(
    api: FakeBotAPI, bot: Bot
) -> None:
    install_gate(bot)
    await bot.set_webhook("https://example.com/hook")  # set by someone after the start
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert len(api.calls_to("deleteWebhook")) == 1
    assert await bot.get_updates(timeout=0) == ()


async def test_a_conflict_with_another_poller_deletes_no_webhook(
    api: FakeBotAPI, bot: Bot
) -> None:
    install_gate(bot)
    api.fail_next(
        "getUpdates",
        409,
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    )
    with pytest.raises(Conflict, match="other getUpdates"):
        await bot.get_updates(timeout=0)
    assert api.calls_to("deleteWebhook") == []


async def test_the_bootstrap_skip_answers_one_delete_webhook_and_nothing_else(
    api: FakeBotAPI, bot: Bot
) -> None:
    install_bootstrap_skip(bot)
    install_bootstrap_skip(bot)  # idempotent: one wrapper
    before = len(api.calls_to("getMe"))  # the one initialize() made
    me = await bot.get_me()  # not a deleteWebhook: goes to Telegram
    assert me.username == "fake_test_bot"
    assert len(api.calls_to("getMe")) == before + 1
    assert await bot.delete_webhook() is True  # answered from what is known
    assert api.calls_to("deleteWebhook") == []
    assert await bot.delete_webhook() is True  # only once: this one goes out
    assert len(api.calls_to("deleteWebhook")) == 1
    remove_bootstrap_skip(bot)
    assert not isinstance(bot._request[1], BootstrapSkip)
    remove_bootstrap_skip(bot)  # not installed: nothing to undo


async def test_install_is_idempotent_and_remove_restores_the_request(bot: Bot) -> None:
    original = bot._request[0]
    gate = install_gate(bot)
    again = install_gate(bot)
    assert isinstance(again, GetUpdatesGate)
    assert again.inner is original, "a second install wrapped the first gate"
    assert bot._request[0] is again
    assert gate.read_timeout == original.read_timeout
    remove_gate(bot)
    assert bot._request[0] is original
    remove_gate(bot)  # no gate: nothing to undo
    assert bot._request[0] is original


async def test_a_stop_waits_until_the_cancelled_long_poll_has_closed(
    api: FakeBotAPI, bot: Bot
) -> None:
    # PTB's Updater.stop() cancels its long poll without awaiting it. Until the cancel has
    # run, the request is open, and the next leader's first getUpdates meets a 409.
    install_gate(bot)
    try:
        long_poll = asyncio.create_task(bot.get_updates(timeout=30))
        async with asyncio.timeout(10):
            while api.stats.current_get_updates < 1:
                await asyncio.sleep(0.01)
        long_poll.cancel()  # not awaited, as PTB does
        async with asyncio.timeout(10):
            await _gate.wait_for_get_updates_to_end(bot, timeout=30)
        assert long_poll.done()  # its connection closed before we went on
        async with asyncio.timeout(10):
            while api.stats.current_get_updates:  # the server saw it close
                await asyncio.sleep(0.01)
        # With nothing in flight, it returns at once (and keeps doing so after a call).
        await bot.get_updates(timeout=0)
        async with asyncio.timeout(10):
            await _gate.wait_for_get_updates_to_end(bot, timeout=30)
        assert api.stats.for_token(api.token).conflicts_total == 0
    finally:
        remove_gate(bot)
