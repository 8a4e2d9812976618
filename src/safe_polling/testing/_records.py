"""What the fake Bot API records for tests: calls, sent messages and counters.

All records are plain frozen dataclasses that round-trip through JSON, so the control API of a
fake running in another process returns the very same types as the in-process fake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "CONFLICT_OTHER_GET_UPDATES",
    "CONFLICT_SET_WEBHOOK",
    "CONFLICT_WEBHOOK_ACTIVE",
    "Call",
    "FakeStats",
    "Sent",
    "SentPredicate",
    "TokenStats",
    "describe_sent",
    "sent_matcher",
]

# The three kinds of 409 Conflict answers, keys of the ``conflicts`` counters.
CONFLICT_OTHER_GET_UPDATES = "other_get_updates"
CONFLICT_WEBHOOK_ACTIVE = "webhook_active"
CONFLICT_SET_WEBHOOK = "set_webhook"


@dataclass(frozen=True)
class Call:
    """One bot-facing request, whatever its outcome.

    Attributes:
        method (:obj:`str`): Canonical method name (``"sendMessage"``), or the name as sent
            when the method is unknown.
        params (:obj:`dict`): Decoded parameters (uploads replaced by a description).
        token (:obj:`str`): The bot token of the request.
        time (:obj:`float`): Unix time the request arrived.
        status (:obj:`int`): HTTP status of the answer (200, 400, 409, ...).
        description (:obj:`str`): The error description answered (``""`` on success), e.g.
            ``"Bad Request: chat not found"``.

    .. versionadded:: 0.1.0
    """

    method: str
    params: dict[str, Any]
    token: str = field(repr=False)
    time: float
    status: int = 200
    description: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        """Rebuild from :func:`dataclasses.asdict` output."""
        return cls(**data)


@dataclass(frozen=True)
class Sent:
    """Something the bot did in a chat: a message sent, edited or deleted, an action, an answer.

    Attributes:
        seq (:obj:`int`): Position in the fake's history of sent records, from 0; pass it as
            ``after=`` to wait only for newer records.
        method (:obj:`str`): Canonical method name, e.g. ``"sendMessage"``.
        chat_id (:obj:`int` | :obj:`None`): The chat (for answers to queries: the user).
        params (:obj:`dict`): Decoded request parameters.
        message (:obj:`dict` | :obj:`None`): The resulting Message object, if any.
        result (:obj:`Any`): The ``result`` the fake answered with.
        token (:obj:`str`): The bot token used.
        time (:obj:`float`): Unix time of the request.

    .. versionadded:: 0.1.0
    """

    seq: int
    method: str
    chat_id: int | None
    params: dict[str, Any]
    message: dict[str, Any] | None
    result: Any
    token: str = field(repr=False)
    time: float

    @property
    def text(self) -> str | None:
        """Text (or caption) of the resulting message, or of the request for edits/answers."""
        if self.message is not None:
            value = self.message.get("text", self.message.get("caption"))
            return value if isinstance(value, str) else None
        value = self.params.get("text")
        return value if isinstance(value, str) else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sent:
        """Rebuild from :func:`dataclasses.asdict` output."""
        return cls(**data)


@dataclass(frozen=True)
class TokenStats:
    """Counters of one bot token.

    Attributes:
        get_updates_calls (:obj:`int`): getUpdates requests (past the token check).
        current_get_updates (:obj:`int`): getUpdates requests polling right now.
        max_concurrent_get_updates (:obj:`int`): Most getUpdates polling at once; more than 1
            means two pollers overlapped (the older one was then ended with a 409).
        conflicts (:obj:`Mapping`): 409 answers by kind: ``"other_get_updates"``,
            ``"webhook_active"``, ``"set_webhook"``.
        delete_webhook_calls (:obj:`tuple`): The ``drop_pending_updates`` argument of every
            deleteWebhook call, in order (:obj:`None` when not given).
        confirmed_offset (:obj:`int`): Updates below this id are confirmed.
        pending_count (:obj:`int`): Unconfirmed updates.

    .. versionadded:: 0.1.0
    """

    get_updates_calls: int = 0
    current_get_updates: int = 0
    max_concurrent_get_updates: int = 0
    conflicts: Mapping[str, int] = field(default_factory=dict)
    delete_webhook_calls: tuple[bool | None, ...] = ()
    confirmed_offset: int = 0
    pending_count: int = 0

    @property
    def conflicts_total(self) -> int:
        """All 409 answers of this token."""
        return sum(self.conflicts.values())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenStats:
        """Rebuild from :meth:`FakeStats.to_dict` output."""
        values = dict(data)
        values["delete_webhook_calls"] = tuple(values.get("delete_webhook_calls", ()))
        return cls(**values)


@dataclass(frozen=True)
class FakeStats:
    """A snapshot of the fake's counters, overall and per token.

    Attributes:
        get_updates_calls (:obj:`int`): getUpdates requests, all tokens.
        current_get_updates (:obj:`int`): getUpdates polling right now, all tokens.
        max_concurrent_get_updates (:obj:`int`): Most getUpdates polling at once, all tokens.
        conflicts (:obj:`Mapping`): 409 answers by kind, all tokens.
        tokens (:obj:`Mapping`): :class:`TokenStats` by bot token.

    .. versionadded:: 0.1.0
    """

    get_updates_calls: int = 0
    current_get_updates: int = 0
    max_concurrent_get_updates: int = 0
    conflicts: Mapping[str, int] = field(default_factory=dict)
    # Keyed by token, so kept out of repr: a failing assertion must not print tokens.
    tokens: Mapping[str, TokenStats] = field(default_factory=dict, repr=False)

    @property
    def conflicts_total(self) -> int:
        """All 409 answers."""
        return sum(self.conflicts.values())

    def for_token(self, token: str) -> TokenStats:
        """The counters of ``token`` (all zero when the token was never used)."""
        return self.tokens.get(token, TokenStats())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (used by the control API)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FakeStats:
        """Rebuild from :meth:`to_dict` output."""
        values = dict(data)
        values["tokens"] = {k: TokenStats.from_dict(v) for k, v in data["tokens"].items()}
        return cls(**values)


SentPredicate = Callable[[Sent], bool]


def sent_matcher(what: str | SentPredicate, chat_id: int | None) -> SentPredicate:
    """A predicate from a method name (case-insensitive) or a callable, plus a chat filter."""

    def matches(item: Sent) -> bool:
        if chat_id is not None and item.chat_id != chat_id:
            return False
        if isinstance(what, str):
            return item.method.lower() == what.lower()
        return what(item)

    return matches


def describe_sent(items: list[Sent]) -> str:
    """A short, token-free summary of the last sent records for timeout messages."""
    lines = [f"  #{s.seq} {s.method} chat={s.chat_id} text={(s.text or '')[:60]!r}" for s in items]
    return "\n".join(lines[-10:]) or "  (nothing)"
