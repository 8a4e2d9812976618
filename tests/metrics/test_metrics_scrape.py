"""``GET /metrics`` scraped from real bot processes while they poll and hand over.

Two instances of ``_metrics_bot.py`` share a file lease, each with its own health port;
the fake Bot API runs in the test. Every figure checked is read from the Prometheus text the
processes serve, between two scrapes: the values must move as the events happen.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from tests.metrics._scrape import Bot, Samples, role, value

from safe_polling.testing import FakeBotAPI

# Handler labels: the bot runs as a script, so its module is __main__.
ON_TEXT, ON_SLOW = "__main__.on_text", "__main__.on_slow"
HANDLER_COUNT = "safe_polling_handler_duration_seconds_count"
# A chat id no timestamp or duration in the exposition can contain by chance (1001 could).
CHAT = 718293046


@pytest.mark.slow
async def test_metrics_follow_polling_updates_errors_blocks_and_a_handover(
    tmp_path: Path, bots: list[Bot]
) -> None:
    ok = "safe_polling_get_updates_total"
    async with FakeBotAPI() as api:
        first = Bot(api, tmp_path, "first")
        bots.append(first)
        before = await first.wait_metric(
            lambda s: role(s, "leader") and value(s, ok, outcome="ok") >= 1, "the first to poll"
        )
        assert value(before, "safe_polling_lease_terms_total") == 1
        assert value(before, "safe_polling_role", role="standby") == 0
        last_ok = value(before, "safe_polling_last_get_updates_success_timestamp_seconds")
        assert time.time() - 20 < last_ok <= time.time()

        # Polling goes on: more successful calls, a newer success time.
        polled = await first.wait_metric(
            lambda s: value(s, ok, outcome="ok") >= value(before, ok, outcome="ok") + 2,
            "more getUpdates",
        )
        assert value(polled, "safe_polling_last_get_updates_success_timestamp_seconds") > last_ok

        # An update: fetched, then handled (counted and timed by its type).
        api.inject_message(CHAT, "hello")
        await api.wait_for_text(CHAT, "echo: hello", timeout=20)
        handled = await first.wait_metric(
            lambda s: value(s, "safe_polling_updates_handled_total", update_type="message") == 1,
            "the update to be handled",
        )
        assert value(handled, "safe_polling_updates_fetched_total") == 1
        seconds = "safe_polling_update_duration_seconds_count"
        assert value(handled, seconds, update_type="message") == 1
        assert value(handled, HANDLER_COUNT, handler=ON_TEXT) == 1  # and by its handler
        assert value(handled, HANDLER_COUNT, handler=ON_SLOW) == 0

        # A handler error reaches the error handler: counted by the callback's name.
        api.inject_message(CHAT, "boom")
        failed = await first.wait_metric(
            lambda s: value(s, "safe_polling_handler_errors_total", handler=ON_TEXT) == 1,
            "the handler error",
        )
        assert value(failed, "safe_polling_updates_handled_total", update_type="message") == 2
        assert value(failed, HANDLER_COUNT, handler=ON_TEXT) == 2  # a failed run is timed too

        # A ConversationHandler's state is timed by its own callback, to its end.
        api.inject_message(CHAT, "slow")
        slow = await first.wait_metric(
            lambda s: value(s, HANDLER_COUNT, handler=ON_SLOW) == 1, "the conversation's handler"
        )
        assert value(slow, "safe_polling_handler_duration_seconds_sum", handler=ON_SLOW) >= 0.5
        assert value(slow, HANDLER_COUNT, handler=ON_TEXT) == 2

        # A 429 on getUpdates is an error of its own kind.
        api.fail_next("getUpdates", 429, retry_after=1)
        limited = await first.wait_metric(
            lambda s: value(s, ok, outcome="rate_limited") == 1, "the 429"
        )
        assert value(limited, ok, outcome="conflict") == 0

        # A frozen event loop: the watchdog counts the block and its length.
        api.inject_message(CHAT, "block")

        def long_blocks(s: Samples) -> float:
            count = value(s, "safe_polling_event_loop_block_seconds_count")
            return count - value(s, "safe_polling_event_loop_block_seconds_bucket", le="0.5")

        assert long_blocks(limited) == 0
        blocked = await first.wait_metric(lambda s: long_blocks(s) == 1, "the 0.6 s block")
        assert value(blocked, "safe_polling_event_loop_blocks_total") >= 1

        # A second instance stands by and never polls.
        second = Bot(api, tmp_path, "second")
        bots.append(second)
        standby = await second.wait_metric(
            lambda s: value(s, "safe_polling_role", role="standby") == 1, "the standby"
        )
        assert value(standby, ok, outcome="ok") == 0
        assert value(standby, "safe_polling_lease_terms_total") == 0

        # Handover: the first stops on SIGTERM, the second takes the lease and polls.
        waited_from = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(30) == 0, first.output()
        after = await second.wait_metric(
            lambda s: role(s, "leader") and value(s, ok, outcome="ok") >= 1, "the takeover"
        )
        assert value(after, "safe_polling_role", role="standby") == 0
        assert value(after, "safe_polling_lease_terms_total") == 1
        assert value(after, "safe_polling_lease_acquire_wait_seconds_count") == 1
        # It stood by from its start until the first left, and no longer than the test ran.
        wait = value(after, "safe_polling_lease_acquire_wait_seconds_sum")
        assert 0 < wait < time.monotonic() - waited_from + 60
        api.inject_message(CHAT, "after the handover")
        await api.wait_for_text(CHAT, "echo: after the handover", timeout=20)
        text, _ = await second.scrape()

    assert api.stats.max_concurrent_get_updates == 1
    assert api.token.split(":", 1)[1] not in text
    assert str(CHAT) not in text  # no chat or user id in any label
