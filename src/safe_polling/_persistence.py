"""A PTB persistence in the bot's database, fresh on every update, for bots run as many workers.

PTB's persistences load everything once at start and write back on a timer:
with several workers each would keep its own ``user_data`` and conversation
states and overwrite the others'. :class:`DatabasePersistence` keeps one row
per user, chat, bot and conversation in the bot's database (PostgreSQL or
SQLite, through :mod:`safe_polling.db`), reloads the user's, chat's and bot's
data before each update (PTB's ``refresh_*_data`` hooks) and is written after
each update by the scale-out worker (``Application.update_persistence`` before
the update is acknowledged). Data is stored as JSON: keep it to JSON types.

Conversation states are loaded by PTB once, at ``initialize``.
:func:`reload_conversations` reloads the states of the chats in partitions a
worker has just taken over: it writes into ``Application._conversation_handler_conversations``
(PTB's private dict of the persistent ConversationHandlers' states, the one PTB
itself fills at ``initialize``); it is the only private attribute touched here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telegram.ext import BasePersistence, PersistenceInput

if TYPE_CHECKING:
    from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

    from ._polling import AnyApplication
    from .db import BalanceStore

__all__ = ["DatabasePersistence", "reload_conversations"]

logger = logging.getLogger("safe_polling")

_MIGRATIONS = [
    "CREATE TABLE safe_polling_persistence ("
    " bot_id BIGINT NOT NULL,"
    " kind TEXT NOT NULL,"
    " item TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " PRIMARY KEY (bot_id, kind, item))",
]
_UPSERT = (
    "INSERT INTO safe_polling_persistence (bot_id, kind, item, data) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (bot_id, kind, item) DO UPDATE SET data = excluded.data"
)
_DELETE = "DELETE FROM safe_polling_persistence WHERE bot_id = $1 AND kind = $2 AND item = $3"
_SELECT_KIND = "SELECT item, data FROM safe_polling_persistence WHERE bot_id = $1 AND kind = $2"
_SELECT_ONE = (
    "SELECT data FROM safe_polling_persistence WHERE bot_id = $1 AND kind = $2 AND item = $3"
)


class DatabasePersistence(BasePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB persistence in the bot's database, refreshed before every update.

    Pass it to ``ApplicationBuilder().persistence(...)``; with
    :func:`safe_polling.run_polling` and a queue, each update's changes are
    written before the update is acknowledged, so the next update of the chat
    sees them whichever worker handles it. In one process (no queue) a refresh
    keeps the changes the process made since it last read or wrote the data, and
    writes them: they are newer than the database until PTB's timer writes them.

    Args:
        store: The bot's :class:`safe_polling.db.BalanceStore` (PostgreSQL or SQLite), or
            its URL: the store is then opened at the first use (PTB's ``initialize``,
            in the application's event loop) and closed by :meth:`flush` at shutdown.
        bot_id: The bot token or id (only the id is used): rows are per bot.
        store_data: Which kinds of data to keep (PTB's :class:`PersistenceInput`).
        update_interval: PTB's timer for writing back, in seconds; the scale-out
            worker also writes after every update.

    Example:
        .. code-block:: python

            application = (
                ApplicationBuilder()
                .token(TOKEN)
                .persistence(DatabasePersistence(DATABASE_URL, bot_id=TOKEN))
                .build()
            )

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: BalanceStore | str,
        *,
        bot_id: str | int,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
    ) -> None:
        from .lease import bot_id_from_token

        super().__init__(store_data=store_data, update_interval=update_interval)
        self._url = store if isinstance(store, str) else None
        self._store = None if isinstance(store, str) else store
        self.bot_id = bot_id_from_token(bot_id)
        self._migrated = False
        # Each user's, chat's and the bot's data as JSON, as last read from or written to the
        # database: a refresh tells changes made here since (not yet written: PTB writes on
        # its timer) from data that is only stale.
        self._synced: dict[tuple[str, str], str] = {}

    async def _ready(self) -> BalanceStore:
        if self._store is None:
            from .db import open_balance_store

            self._store = await open_balance_store(self._url)
        if not self._migrated:
            await self._store.apply_migrations("safe_polling.persistence", _MIGRATIONS)
            self._migrated = True
        return self._store

    async def _load_kind(self, kind: str) -> dict[str, Any]:
        store = await self._ready()
        rows = await store.fetch_all(_SELECT_KIND, self.bot_id, kind)
        loaded = {str(row["item"]): json.loads(str(row["data"])) for row in rows}
        for item, data in loaded.items():
            self._synced[kind, item] = _dump(data)
        return loaded

    async def _load_one(self, kind: str, item: str) -> Any:
        store = await self._ready()
        row = await store.fetch_one(_SELECT_ONE, self.bot_id, kind, item)
        return None if row is None else json.loads(str(row["data"]))

    async def _save(self, kind: str, item: str, data: Any) -> None:
        await self._write(kind, item, _dump(data))

    async def _write(self, kind: str, item: str, text: str) -> None:
        store = await self._ready()
        await store.execute(_UPSERT, self.bot_id, kind, item, text)
        self._synced[kind, item] = text

    async def _drop(self, kind: str, item: str) -> None:
        store = await self._ready()
        await store.execute(_DELETE, self.bot_id, kind, item)
        self._synced.pop((kind, item), None)

    async def _refresh(self, kind: str, item: str, data: dict[Any, Any]) -> None:
        """Make *data* what the database holds, unless it was changed here since the last sync.

        Changed here means newer: this process handled the user's (or chat's) last update
        and PTB has not written it yet (it writes on a timer; the scale-out worker writes
        after every update, so there it is always written). It is written now instead of
        being overwritten by the older row.
        """
        synced = self._synced.get((kind, item))
        if synced is not None:
            current = _dump(data)
            if current != synced:
                await self._write(kind, item, current)
                return
        stored = await self._load_one(kind, item)
        _replace(data, stored)
        self._synced[kind, item] = _dump(data)

    # -- loading at initialize -------------------------------------------------------------
    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        """All users' data."""
        return {int(k): v for k, v in (await self._load_kind("user")).items()}

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        """All chats' data."""
        return {int(k): v for k, v in (await self._load_kind("chat")).items()}

    async def get_bot_data(self) -> dict[Any, Any]:
        """The bot's data."""
        data = await self._load_one("bot", "")
        return data if isinstance(data, dict) else {}

    async def get_callback_data(self) -> CDCData | None:
        """Arbitrary callback data is not kept (JSON cannot hold it faithfully)."""
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        """The states of conversation handler *name*."""
        stored = await self._load_kind(f"conv:{name}")
        return {_key(item): state for item, state in stored.items()}

    # -- writing ---------------------------------------------------------------------------
    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Write (or, for :obj:`None`, delete) one conversation state."""
        if new_state is None:
            await self._drop(f"conv:{name}", _item(key))
        else:
            await self._save(f"conv:{name}", _item(key), new_state)

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        """Write one user's data."""
        await self._save("user", str(user_id), data)

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Write one chat's data."""
        await self._save("chat", str(chat_id), data)

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        """Write the bot's data."""
        await self._save("bot", "", data)

    async def update_callback_data(self, data: CDCData) -> None:
        """Not kept: see :meth:`get_callback_data`."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Delete one chat's data."""
        await self._drop("chat", str(chat_id))

    async def drop_user_data(self, user_id: int) -> None:
        """Delete one user's data."""
        await self._drop("user", str(user_id))

    # -- refreshing before each update -----------------------------------------------------
    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Replace *user_data* in place with what the database holds now (see above)."""
        await self._refresh("user", str(user_id), user_data)

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Replace *chat_data* in place with what the database holds now (see above)."""
        await self._refresh("chat", str(chat_id), chat_data)

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        """Replace *bot_data* in place with what the database holds now (see above)."""
        await self._refresh("bot", "", bot_data)

    async def flush(self) -> None:
        """Nothing buffered (every write went to the database); close a store opened here.

        PTB calls it once, from ``Application.shutdown``.
        """
        if self._url is not None and self._store is not None:
            store, self._store, self._migrated = self._store, None, False
            await store.aclose()


def _item(key: ConversationKey) -> str:
    """A conversation key (a tuple of ids) as a row key."""
    return json.dumps(list(key))


def _key(item: str) -> ConversationKey:
    return tuple(json.loads(item))


def _dump(data: Any) -> str:
    return json.dumps(data)  # not sort_keys: PTB's dicts may mix int and str keys


def _replace(target: dict[Any, Any], stored: Any) -> None:
    target.clear()
    if isinstance(stored, dict):
        target.update(stored)


async def reload_conversations(
    application: AnyApplication, wanted: Callable[[ConversationKey], bool] | None = None
) -> int:
    """Reload persistent ConversationHandler states from the persistence.

    Called when a worker takes over partitions: another worker may have moved
    those chats' conversations on since this one last saw them.

    Args:
        application: The initialized application (with a persistence).
        wanted: Reload only the keys for which this returns true; :obj:`None`: all.

    Returns:
        How many states changed.

    .. versionadded:: 0.1.0
    """
    persistence = application.persistence
    if persistence is None:
        return 0
    changed = 0
    conversations = application._conversation_handler_conversations
    for name, states in conversations.items():
        stored = await persistence.get_conversations(name)
        for key in set(stored) | set(states.data):
            if wanted is not None and not wanted(key):
                continue
            if key in stored and states.data.get(key) != stored[key]:
                states.data[key] = stored[key]
                changed += 1
            elif key not in stored and key in states.data:
                del states.data[key]
                changed += 1
    return changed
