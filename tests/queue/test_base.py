"""The queue's shared code without a server: partitions, defaults and checked options."""

from __future__ import annotations

from typing import Any

import pytest
from _queue_helpers import message

from safe_polling.queue import MemoryQueue, partition_of, partition_of_chat

# crc32 of the id's decimal text modulo 16; every process and host must agree on these.
KNOWN_PARTITIONS = {42: 8, 5: 14, 77: 4, 9: 5, 3: 11}


def test_a_partition_is_the_same_everywhere_and_in_range() -> None:
    for chat, partition in KNOWN_PARTITIONS.items():
        assert partition_of_chat(chat, 16) == partition
    for chat in range(-500, 500, 7):
        assert 0 <= partition_of_chat(chat, 3) < 3


@pytest.mark.parametrize(
    ("update", "key"),
    [
        pytest.param(message(1, chat=42), 42, id="message-by-chat"),
        pytest.param(
            {
                "update_id": 2,
                "callback_query": {
                    "id": "q",
                    "from": {"id": 5},
                    "message": {"message_id": 1, "chat": {"id": 42}},
                },
            },
            42,
            id="button-press-by-the-chat-of-its-message",
        ),
        pytest.param(
            {"update_id": 3, "inline_query": {"id": "q", "from": {"id": 77}, "query": ""}},
            77,
            id="inline-query-by-user",
        ),
        pytest.param(
            {"update_id": 4, "poll_answer": {"poll_id": "p", "user": {"id": 9}}},
            9,
            id="poll-answer-by-user",
        ),
        pytest.param(
            {"update_id": 5, "odd": {"chat": {"type": "private"}, "from": {"id": 9}}},
            9,
            id="chat-without-an-id-falls-back-to-the-user",
        ),
        pytest.param({"update_id": 3, "poll": {"id": "p"}}, 3, id="neither-by-update-id"),
    ],
)
def test_the_partition_of_an_update_follows_its_chat_else_user_else_id(
    update: dict[str, Any], key: int
) -> None:
    assert partition_of(update, 16) == KNOWN_PARTITIONS[key]


def test_the_documented_defaults() -> None:
    # docs/scaling-out.md and docs/configuration.md state these.
    queue = MemoryQueue()
    assert (queue.partitions, queue.max_backlog, queue.max_deliveries) == (16, 10_000, 5)
    assert queue.ownership_ttl == 3.0
    assert queue.handled == 0


@pytest.mark.parametrize(
    ("option", "lowest", "bad", "error"),
    [
        ("partitions", 1, 0, "partitions must be at least 1"),
        ("max_backlog", 1, 0, "max_backlog must be at least 1"),
        ("max_deliveries", 1, 0, "max_deliveries must be at least 1"),
        ("ownership_ttl", 0.5, 0.0, "ownership_ttl must be positive"),
        ("ownership_ttl", 0.5, -1.0, "ownership_ttl must be positive"),
    ],
)
def test_options_out_of_range_are_refused_and_the_lowest_valid_is_kept(
    option: str, lowest: float, bad: float, error: str
) -> None:
    assert getattr(MemoryQueue(**{option: lowest}), option) == lowest
    with pytest.raises(ValueError, match=f"^{error}$"):
        MemoryQueue(**{option: bad})


@pytest.mark.parametrize(
    ("workers", "share"), [(0, 16), (1, 16), (2, 8), (3, 6), (16, 1), (40, 1)]
)
def test_the_fair_share_is_the_partitions_divided_by_the_live_workers_rounded_up(
    workers: int, share: int
) -> None:
    assert MemoryQueue().fair_share(workers) == share
