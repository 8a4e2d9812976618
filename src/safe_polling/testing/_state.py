"""Per-token state of the fake Bot API: update queue, webhook, messages, files, queries."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from safe_polling.testing import _objects
from safe_polling.testing._clock import Clock
from safe_polling.testing._records import TokenStats

if TYPE_CHECKING:
    from safe_polling.testing._flood import Limiter
    from safe_polling.testing._polls import StoredPoll
    from safe_polling.testing._world import ChatRecord

__all__ = [
    "FUTURE_OFFSET_SLACK",
    "QUERY_TTL",
    "BotState",
    "Queries",
    "Query",
    "StoredFile",
    "StoredMessage",
    "Waiter",
    "Webhook",
]

_file_numbers = itertools.count(1)
_query_numbers = itertools.count(1)


@dataclass
class StoredFile:
    """A file the fake can serve: injected by the test side or uploaded by the bot."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes

    def as_file(self) -> dict[str, Any]:
        """The ``getFile`` result."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class Webhook:
    """Webhook settings of one bot; ``url == ""`` means polling."""

    url: str = ""
    has_custom_certificate: bool = False
    max_connections: int = 40
    ip_address: str | None = None
    allowed_updates: list[str] | None = None
    secret_token: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class StoredMessage:
    """A message in a chat, with who sent it (only the bot's own messages can be edited)."""

    message: dict[str, Any]
    by_bot: bool
    deleted: bool = False


@dataclass
class Waiter:
    """A getUpdates request waiting in a long poll.

    ``future`` resolves to None when updates arrive, or to a 409 description when the request
    is terminated (by a newer getUpdates or by setWebhook) together with its conflict kind.
    """

    future: asyncio.Future[tuple[str, str] | None]


# How far past the next update id a getUpdates offset may point before the real server ignores
# it ("Specified from_id is in the future" in tdlib's TQueue).
FUTURE_OFFSET_SLACK = 10
# Seconds an unanswered query stays answerable. Pre-checkout: the Bot API documentation's 10 s;
# callback and inline queries: not documented, about 15 s is what bots observe in practice.
QUERY_TTL = {"callback": 15.0, "pre_checkout": 10.0, "shipping": 10.0, "inline": 15.0}


@dataclass
class Query:
    """An unanswered query: who asked and when (on the fake's clock)."""

    user_id: int
    created: float


@dataclass
class Queries:
    """Unanswered callback, inline, shipping and pre-checkout queries, by kind and id."""

    open: dict[str, dict[str, Query]] = field(default_factory=dict)

    def add(self, kind: str, user_id: int, now: float) -> str:
        """Register a new query; returns its id."""
        query_id = f"{next(_query_numbers)}{secrets.randbelow(10**9)}"
        self.open.setdefault(kind, {})[query_id] = Query(user_id, now)
        return query_id

    def take(self, kind: str, query_id: str, now: float) -> int | None:
        """The user of a live query, consumed; None when unknown, answered or expired."""
        query = self.open.get(kind, {}).pop(query_id, None)
        if query is None or now - query.created > QUERY_TTL[kind]:
            return None
        return query.user_id


@dataclass
class BotState:
    """Everything the fake keeps for one bot token."""

    token: str
    bot_id: int
    username: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    confirmed_offset: int = 0
    allowed_updates: list[str] | None = None
    webhook: Webhook = field(default_factory=Webhook)
    waiter: Waiter | None = None
    next_immediate_conflict: float = 0.0
    messages: dict[tuple[int, int], StoredMessage] = field(default_factory=dict)
    last_message_id: dict[int, int] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    chats: dict[int, ChatRecord] = field(default_factory=dict)
    # Whether sending to a chat the bot does not know fails ("chat not found").
    strict_chats: bool = True
    join_requests: set[tuple[int, int]] = field(default_factory=set)
    queries: Queries = field(default_factory=Queries)
    # charge id -> (user id, refunded)
    charges: dict[str, tuple[int, bool]] = field(default_factory=dict)
    commands: dict[str, list[Any]] = field(default_factory=dict)
    polls: dict[str, StoredPoll] = field(default_factory=dict)
    pins: dict[int, list[int]] = field(default_factory=dict)
    # the bot's reactions by (chat, message); users' by (chat, user, message)
    reactions: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    user_reactions: dict[tuple[int, int, int], list[dict[str, Any]]] = field(default_factory=dict)
    # (setMyName/setMyDescription/setMyShortDescription key, language) -> text
    profile: dict[tuple[str, str], str] = field(default_factory=dict)
    menu_buttons: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Telegram Stars the bot earned, and its StarTransactions (newest last)
    star_balance: int = 0
    star_transactions: list[dict[str, Any]] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    flood: Limiter | None = None
    # counters
    get_updates_calls: int = 0
    current_get_updates: int = 0
    max_concurrent_get_updates: int = 0
    conflicts: Counter[str] = field(default_factory=Counter)
    delete_webhook_calls: list[bool | None] = field(default_factory=list)

    # ---- updates -------------------------------------------------------------------------

    def wants(self, kind: str | None) -> bool:
        """Whether the remembered ``allowed_updates`` let an update of ``kind`` be created."""
        allowed = self.webhook.allowed_updates if self.webhook.url else self.allowed_updates
        if not allowed:
            return kind not in _objects.NOT_BY_DEFAULT
        return kind in allowed

    def add_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (assigning ``update_id`` unless given) and wake the long poll."""
        if "update_id" not in update:
            update = {"update_id": self.next_update_id, **update}
        self.next_update_id = max(self.next_update_id, int(update["update_id"]) + 1)
        if int(update["update_id"]) >= self.confirmed_offset:
            self.updates.append(update)
            self.updates.sort(key=lambda u: int(u["update_id"]))
        self.wake(None)
        return update

    def confirm(self, offset: int) -> None:
        """Apply a getUpdates ``offset`` the way telegram-bot-api's update queue does.

        Updates below ``offset`` are forgotten (negative: all but the last ``-offset``). An
        offset more than :data:`FUTURE_OFFSET_SLACK` past the next update id is "in the future"
        and ignored: nothing is confirmed and the oldest pending updates are returned, exactly as
        for no offset. A smaller overshoot is accepted as given, so the updates that later get ids
        below it are dropped unseen (tdlib ``TQueue::get``; ``Client::do_get_updates``).
        """
        if offset < 0:
            keep = self.updates[offset:]
            offset = int(keep[0]["update_id"]) if keep else self.next_update_id
        if offset <= 0 or offset > self.next_update_id + FUTURE_OFFSET_SLACK:
            return
        self.confirmed_offset = max(self.confirmed_offset, offset)
        self.updates = [u for u in self.updates if int(u["update_id"]) >= offset]

    def drop_pending(self) -> None:
        """Discard every unconfirmed update (``drop_pending_updates``)."""
        self.confirm(self.next_update_id)

    def wake(self, reason: tuple[str, str] | None) -> None:
        """Finish the waiting long poll: None = updates arrived, else (kind, 409 description)."""
        waiter = self.waiter
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(reason)
        if reason is not None:
            self.waiter = None

    # ---- chats and messages --------------------------------------------------------------

    def chat_obj(self, chat_id: int) -> dict[str, Any]:
        """The Chat object for ``chat_id`` (named after the user when one was seen)."""
        record = self.chats.get(chat_id)
        if record is not None:
            return record.chat
        known = self.users.get(chat_id)
        if known is not None:
            return _objects.chat(chat_id, known["first_name"], known.get("username"))
        return _objects.chat(chat_id)

    def new_message_id(self, chat_id: int) -> int:
        """The next message id in a chat (ids are per chat, like in private chats)."""
        value = self.last_message_id.get(chat_id, 0) + 1
        self.last_message_id[chat_id] = value
        return value

    def store_message(self, msg: dict[str, Any], *, by_bot: bool) -> None:
        """Remember a message so it can be edited, deleted or replied to."""
        key = (int(msg["chat"]["id"]), int(msg["message_id"]))
        self.messages[key] = StoredMessage(msg, by_bot)

    def last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        """The newest message the bot sent to ``chat_id`` that still exists."""
        found = [
            s
            for (cid, _), s in self.messages.items()
            if cid == chat_id and s.by_bot and not s.deleted
        ]
        return max(found, key=lambda s: int(s.message["message_id"])).message if found else None

    # ---- files ---------------------------------------------------------------------------

    def add_file(self, data: bytes, folder: str, suffix: str) -> StoredFile:
        """Store bytes under a fresh file_id and file_path."""
        number = next(_file_numbers)
        stored = StoredFile(
            file_id=f"FAKE{folder[:3].upper()}{number}-{secrets.token_urlsafe(12)}",
            file_unique_id=f"U{number}{secrets.token_hex(4)}",
            file_path=f"{folder}/file_{number}{suffix}",
            data=data,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        """The stored file served at ``file_path``."""
        return next((f for f in self.files.values() if f.file_path == path), None)

    # ---- counters ------------------------------------------------------------------------

    def stats(self) -> TokenStats:
        """A snapshot of this token's counters."""
        return TokenStats(
            get_updates_calls=self.get_updates_calls,
            current_get_updates=self.current_get_updates,
            max_concurrent_get_updates=self.max_concurrent_get_updates,
            conflicts=dict(self.conflicts),
            delete_webhook_calls=tuple(self.delete_webhook_calls),
            confirmed_offset=self.confirmed_offset,
            pending_count=len(self.updates),
        )

    def reset_stats(self) -> None:
        """Zero the counters (the peak restarts from the polls running now)."""
        self.get_updates_calls = 0
        self.max_concurrent_get_updates = self.current_get_updates
        self.conflicts.clear()
        self.delete_webhook_calls.clear()
