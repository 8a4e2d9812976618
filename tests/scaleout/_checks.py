"""What the scale-out tests read back from the bot's database, and the order check."""

from __future__ import annotations

import json

from safe_polling.db import open_balance_store

Runs = dict[int, list[tuple[int, int, int]]]


async def runs_by_chat(url: str) -> Runs:
    """Per chat, the (seq, update_id, pid) of every handler start, in start order."""
    async with open_balance_store(url) as store:
        rows = await store.fetch_all(
            "SELECT chat, seq, update_id, pid FROM scale_runs ORDER BY id"
        )
    runs: Runs = {}
    for row in rows:
        runs.setdefault(int(row["chat"]), []).append(
            (int(row["seq"]), int(row["update_id"]), int(row["pid"]))
        )
    return runs


def assert_in_order(runs: Runs, per_chat: int) -> None:
    """Each chat's handlers started in sequence order; a re-run only repeats the last step."""
    for chat, chat_runs in runs.items():
        steps = [seq for seq, _, _ in chat_runs]
        deduped = [s for i, s in enumerate(steps) if i == 0 or s != steps[i - 1]]
        assert deduped == list(range(per_chat)), f"chat {chat}: {steps}"


async def conversation_states(url: str) -> dict[int, object]:
    """The persisted state of the ``steps`` conversation, per chat."""
    async with open_balance_store(url) as store:
        rows = await store.fetch_all(
            "SELECT item, data FROM safe_polling_persistence WHERE kind = 'conv:steps'"
        )
    return {int(json.loads(str(r["item"]))[0]): json.loads(str(r["data"])) for r in rows}


async def ledger_counts(url: str) -> dict[str, int]:
    """Ledger rows per idempotency key: the effects."""
    async with open_balance_store(url) as store:
        rows = await store.fetch_all(
            "SELECT idempotency_key AS k, COUNT(*) AS n FROM safe_polling_ledger"
            " GROUP BY idempotency_key"
        )
    return {str(r["k"]): int(r["n"]) for r in rows}
