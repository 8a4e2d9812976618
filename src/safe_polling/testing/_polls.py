"""Polls: sendPoll, stopPoll, and the poll / poll_answer updates the test side injects.

The limits (question 1-300 characters, 2-12 options of 1-100 characters, a quiz needs one
correct option) follow the Bot API documentation; the errors for breaking them are MTProto's
names (``POLL_QUESTION_INVALID``, ``POLL_ANSWERS_INVALID``, ``QUIZ_CORRECT_ANSWERS_EMPTY``) as the
real server passes them through; ``message poll not found`` is telegram-bot-api's own wording.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._messages import chat_id_of, inline_markup, send_bot_message
from safe_polling.testing._params import bad_request, get_bool, get_int, get_json, get_str
from safe_polling.testing._state import BotState

__all__ = ["StoredPoll", "send_poll", "stop_poll", "vote"]

MAX_QUESTION = 300
MAX_OPTION = 100
OPTIONS = range(2, 13)
_poll_numbers = itertools.count(5_000_000_000_000_000_000)


@dataclass
class StoredPoll:
    """A poll the bot sent: where it is and the votes it has."""

    poll: dict[str, Any]
    chat_id: int
    message_id: int
    votes: dict[int, list[int]] = field(default_factory=dict)

    def counted(self) -> dict[str, Any]:
        """The poll with its current counts."""
        counts = [0] * len(self.poll["options"])
        for option_ids in self.votes.values():
            for option in option_ids:
                counts[option] += 1
        options = [
            {**o, "voter_count": n} for o, n in zip(self.poll["options"], counts, strict=True)
        ]
        return {**self.poll, "options": options, "total_voter_count": len(self.votes)}


def _options(params: dict[str, Any]) -> list[dict[str, Any]]:
    given = get_json(params, "options", "options")
    if not isinstance(given, list) or len(given) not in OPTIONS:
        raise bad_request("POLL_ANSWERS_INVALID")
    options: list[dict[str, Any]] = []
    for option in given:
        text = option.get("text") if isinstance(option, dict) else option
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_OPTION:
            raise bad_request("POLL_ANSWER_INVALID")
        options.append({"text": text, "voter_count": 0, "persistent_id": str(len(options))})
    return options


def _correct_options(params: dict[str, Any]) -> list[int]:
    """``correct_option_ids`` (Bot API 9.6), or the older single ``correct_option_id``."""
    given = get_json(params, "correct_option_ids", "correct option identifiers")
    if isinstance(given, list):
        return [int(c) for c in given]
    if params.get("correct_option_id") in (None, ""):
        return []
    return [get_int(params, "correct_option_id")]


async def send_poll(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``sendPoll``: a regular or quiz poll; it is stored for votes and stopPoll."""
    chat_id = chat_id_of(params)
    question = get_str(params, "question")
    if not 1 <= len(question) <= MAX_QUESTION:
        raise bad_request("POLL_QUESTION_INVALID")
    options = _options(params)
    kind = get_str(params, "type") or "regular"
    if kind not in {"regular", "quiz"}:
        raise bad_request("Unsupported poll type specified")
    poll: dict[str, Any] = {
        "id": str(next(_poll_numbers)),
        "question": question,
        "options": options,
        "total_voter_count": 0,
        "is_closed": get_bool(params, "is_closed"),
        "is_anonymous": params.get("is_anonymous") in (None, "")
        or get_bool(params, "is_anonymous"),
        "type": kind,
        "allows_multiple_answers": kind == "regular"
        and get_bool(params, "allows_multiple_answers"),
    }
    poll["allows_revoting"] = get_bool(params, "allows_revoting")
    poll["members_only"] = get_bool(params, "members_only")
    if kind == "quiz":
        correct = _correct_options(params)
        if not correct or any(not 0 <= c < len(options) for c in correct):
            raise bad_request("QUIZ_CORRECT_ANSWERS_EMPTY")
        poll["correct_option_ids"] = correct
        if get_str(params, "explanation"):
            poll["explanation"] = get_str(params, "explanation")
    message = send_bot_message(core, state, "sendPoll", params, poll=poll)
    state.polls[poll["id"]] = StoredPoll(poll, chat_id, int(message["message_id"]))
    return message


async def stop_poll(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``stopPoll``: closes a poll the bot sent; returns the final Poll."""
    chat_id = chat_id_of(params)
    message_id = get_int(params, "message_id")
    stored = state.messages.get((chat_id, message_id))
    if stored is None or stored.deleted:
        raise bad_request("message with poll to stop not found")
    poll_id = stored.message.get("poll", {}).get("id")
    found = state.polls.get(poll_id)
    if found is None:
        raise bad_request("message poll not found")
    if found.poll["is_closed"]:
        raise bad_request("POLL_ALREADY_CLOSED")
    found.poll["is_closed"] = True
    markup = inline_markup(params)
    stored.message = {**stored.message, "poll": found.counted()}
    if markup is not None:
        stored.message["reply_markup"] = markup
    return found.counted()


def vote(state: BotState, poll_id: str, user_id: int, option_ids: list[int]) -> StoredPoll:
    """Record a user's vote (an empty list retracts it).

    Raises:
        LookupError: unknown poll, closed poll, or an option the poll does not have.
    """
    found = state.polls.get(poll_id)
    if found is None:
        raise LookupError(f"the bot sent no poll {poll_id!r}")
    if found.poll["is_closed"]:
        raise LookupError(f"poll {poll_id!r} is closed")
    count = len(found.poll["options"])
    if any(not 0 <= o < count for o in option_ids) or (
        len(option_ids) > 1 and not found.poll["allows_multiple_answers"]
    ):
        raise LookupError(f"poll {poll_id!r} has no such choice {option_ids}")
    if option_ids:
        found.votes[user_id] = list(option_ids)
    else:
        found.votes.pop(user_id, None)
    return found
