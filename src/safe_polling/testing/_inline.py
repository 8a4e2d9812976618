"""Inline mode: answerInlineQuery and the inline_query / chosen_inline_result updates.

Wording from telegram-bot-api ``Client.cpp`` (``Expected an Array of inline query results``,
``Too many inline query results specified``, ``Can't parse inline query result: ...``);
``RESULT_ID_DUPLICATE`` and the expiry text are the server's own.
"""

from __future__ import annotations

from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._params import bad_request, get_json, get_str, recordable
from safe_polling.testing._payments import QUERY_INVALID
from safe_polling.testing._state import BotState

__all__ = ["MAX_RESULTS", "answer_inline_query"]

MAX_RESULTS = 50
_RESULT_TYPES = frozenset(
    {
        "article",
        "photo",
        "gif",
        "mpeg4_gif",
        "video",
        "audio",
        "voice",
        "document",
        "location",
        "venue",
        "contact",
        "game",
        "sticker",
    }
)


def _check_result(result: Any) -> None:
    if not isinstance(result, dict):
        raise bad_request("Can't parse inline query result: expected an Object")
    if result.get("type") not in _RESULT_TYPES:
        raise bad_request("Can't parse inline query result: Result has unsupported type")
    if not str(result.get("id", "")) or len(str(result["id"]).encode()) > 64:
        raise bad_request("Can't parse inline query result: Result identifier must be non-empty")


async def answer_inline_query(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``answerInlineQuery``: once per live query; up to 50 results with distinct ids."""
    query_id = get_str(params, "inline_query_id")
    results = get_json(params, "results", "inline query results")
    if results is not None and not isinstance(results, list):
        raise bad_request("Expected an Array of inline query results")
    results = results or []
    if len(results) > MAX_RESULTS:
        raise bad_request("Too many inline query results specified")
    for result in results:
        _check_result(result)
    if len({str(r["id"]) for r in results}) != len(results):
        raise bad_request("RESULT_ID_DUPLICATE")
    user_id = state.queries.take("inline", query_id, state.clock.now())
    if user_id is None:
        raise bad_request(QUERY_INVALID)
    core.record_sent(state, "answerInlineQuery", user_id, recordable(params), None, True)
    return True
