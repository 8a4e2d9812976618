"""The bot's own tables (users, generations, payments), next to the library's balances.

Everything goes through the :class:`safe_polling.db.BalanceStore` SQL primitives, so the
same statements run on SQLite and PostgreSQL. State changes of a generation are
*conditional* updates (``... WHERE id = $n AND state IN (...)``): of two racing writers
exactly one sees a changed row, which is what makes delivery and refunds happen once.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kie_bot.catalog import Params
from safe_polling.db import BalanceStore, IntegrityError, Row

__all__ = [
    "Generation",
    "Payment",
    "State",
    "Storage",
    "now_ms",
]

MIGRATIONS = [
    "CREATE TABLE kie_users (user_id BIGINT PRIMARY KEY, lang TEXT NOT NULL, "
    "created_at BIGINT NOT NULL)",
    "CREATE TABLE kie_generations ("
    "id TEXT PRIMARY KEY, user_id BIGINT NOT NULL, chat_id BIGINT NOT NULL, "
    "lang TEXT NOT NULL, model TEXT NOT NULL, params TEXT NOT NULL, price BIGINT NOT NULL, "
    "state TEXT NOT NULL, task_id TEXT, progress_message_id BIGINT, error TEXT, "
    "result_urls TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, "
    "submitted_at BIGINT)",
    "CREATE INDEX kie_generations_user ON kie_generations (user_id, created_at)",
    "CREATE INDEX kie_generations_state ON kie_generations (state)",
    "CREATE TABLE kie_payments (charge_id TEXT PRIMARY KEY, user_id BIGINT NOT NULL, "
    "package TEXT NOT NULL, stars BIGINT NOT NULL, credits BIGINT NOT NULL, "
    "created_at BIGINT NOT NULL, refunded_at BIGINT)",
    # Which worker runs a generation, until when (ms); 0: nobody. With several workers
    # (SAFE_POLLING_QUEUE) each one picks up only generations whose claim ran out.
    "ALTER TABLE kie_generations ADD COLUMN claimed_by TEXT",
    "ALTER TABLE kie_generations ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0",
]

_COLUMNS = (
    "id, user_id, chat_id, lang, model, params, price, state, task_id, progress_message_id, "
    "error, result_urls, created_at, updated_at, submitted_at"
)
# Columns a transition may set besides state; never anything user-controlled in SQL text.
_SETTABLE = frozenset({"task_id", "error", "result_urls", "submitted_at", "progress_message_id"})


def now_ms() -> int:
    """Wall-clock milliseconds, stored so a resumed generation keeps its original deadline.

    .. versionadded:: 0.1.0
    """
    return int(time.time() * 1000)


class State(StrEnum):
    """The life of a generation.

    ``created -> charged -> submitted -> delivering -> done``; any unfinished state can go
    ``-> refunding -> refunded``; ``created -> cancelled`` when the balance was too low.

    .. versionadded:: 0.1.0
    """

    CREATED = "created"
    CHARGED = "charged"
    SUBMITTED = "submitted"
    DELIVERING = "delivering"
    DONE = "done"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


UNFINISHED = (State.CREATED, State.CHARGED, State.SUBMITTED, State.DELIVERING, State.REFUNDING)


@dataclass(frozen=True, slots=True)
class Generation:
    """One row of ``kie_generations``.

    .. versionadded:: 0.1.0
    """

    id: str
    user_id: int
    chat_id: int
    lang: str
    model: str
    params: Params
    price: int
    state: State
    task_id: str | None
    progress_message_id: int | None
    error: str | None
    result_urls: tuple[str, ...]
    created_at: int
    updated_at: int
    submitted_at: int | None

    @classmethod
    def from_row(cls, row: Row) -> Generation:
        """Build from a database row."""
        raw = json.loads(row["params"])
        files = tuple((name, tuple(urls)) for name, urls in (raw.get("files") or {}).items())
        params = Params(
            raw["prompt"],
            raw.get("choice"),
            tuple(raw.get("image_urls") or ()),
            raw.get("variant"),
            files,
        )
        return cls(
            id=row["id"],
            user_id=int(row["user_id"]),
            chat_id=int(row["chat_id"]),
            lang=row["lang"],
            model=row["model"],
            params=params,
            price=int(row["price"]),
            state=State(row["state"]),
            task_id=row["task_id"],
            progress_message_id=_opt_int(row["progress_message_id"]),
            error=row["error"],
            result_urls=tuple(json.loads(row["result_urls"] or "[]")),
            created_at=int(row["created_at"]),
            updated_at=int(row["updated_at"]),
            submitted_at=_opt_int(row["submitted_at"]),
        )


@dataclass(frozen=True, slots=True)
class Payment:
    """One Stars payment.

    .. versionadded:: 0.1.0
    """

    charge_id: str
    user_id: int
    package: str
    stars: int
    credits: int
    refunded: bool


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


class Storage:
    """The bot's tables on the library's store.

    Args:
        store (:class:`safe_polling.db.BalanceStore`): An open store.

    .. versionadded:: 0.1.0
    """

    def __init__(self, store: BalanceStore) -> None:
        self.store = store

    async def migrate(self) -> None:
        """Create or upgrade the tables (safe when two processes start at once)."""
        await self.store.apply_migrations("kie_bot", MIGRATIONS)

    # -- users ---------------------------------------------------------------------------
    async def add_user(self, user_id: int, lang: str) -> bool:
        """Remember a user; :obj:`True` the first time only."""
        changed = await self.store.execute(
            "INSERT INTO kie_users (user_id, lang, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (user_id) DO NOTHING",
            user_id,
            lang,
            now_ms(),
        )
        return changed == 1

    # -- generations ---------------------------------------------------------------------
    async def insert_generation(
        self,
        gen_id: str,
        *,
        user_id: int,
        chat_id: int,
        lang: str,
        model: str,
        params: Params,
        price: int,
        claim: tuple[str, int] | None = None,
    ) -> bool:
        """Insert a ``created`` generation; :obj:`False` if the id exists (a double press).

        *claim* (worker, until in ms) claims it in the same statement, so no other worker
        can pick it up before its first step.
        """
        raw = {
            "prompt": params.prompt,
            "choice": params.choice,
            "image_urls": list(params.image_urls),
            "variant": params.variant,
            "files": {name: list(urls) for name, urls in params.files},
        }
        now = now_ms()
        worker, until = claim or (None, 0)
        try:
            changed = await self.store.execute(
                f"INSERT INTO kie_generations ({_COLUMNS}, claimed_by, claimed_until) VALUES "  # noqa: S608
                "($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, NULL, $9, $9, NULL, $10, $11) "
                "ON CONFLICT (id) DO NOTHING",
                gen_id,
                user_id,
                chat_id,
                lang,
                model,
                json.dumps(raw),
                price,
                State.CREATED.value,
                now,
                worker,
                until,
            )
        except IntegrityError:
            return False
        return changed == 1

    async def get(self, gen_id: str) -> Generation | None:
        """Return one generation."""
        row = await self.store.fetch_one(
            f"SELECT {_COLUMNS} FROM kie_generations WHERE id = $1",  # noqa: S608
            gen_id,
        )
        return None if row is None else Generation.from_row(row)

    async def transition(
        self, gen_id: str, from_states: tuple[State, ...], to: State, **fields: Any
    ) -> bool:
        """Move a generation to *to* only if it is in one of *from_states*.

        Returns:
            :obj:`bool`: :obj:`True` for the one caller that made the change.
        """
        assert set(fields) <= _SETTABLE, fields
        names = sorted(fields)
        # Only whitelisted column names and numbered placeholders go into the SQL text.
        sets = "".join(f", {name} = ${i + 3}" for i, name in enumerate(names))
        first = 3 + len(names)
        states = ", ".join(f"${first + i}" for i in range(len(from_states)))
        where = f"WHERE id = ${first + len(from_states)} AND state IN ({states})"
        sql = f"UPDATE kie_generations SET state = $1, updated_at = $2{sets} {where}"  # noqa: S608
        args = [to.value, now_ms(), *(fields[n] for n in names)]
        args += [s.value for s in from_states] + [gen_id]
        return await self.store.execute(sql, *args) == 1

    async def set_progress_message(self, gen_id: str, message_id: int) -> None:
        """Remember the one progress message of a generation (to edit after a restart)."""
        await self.store.execute(
            "UPDATE kie_generations SET progress_message_id = $1 WHERE id = $2",
            message_id,
            gen_id,
        )

    # -- claims: one worker per generation ---------------------------------------------------
    async def claimable(self, now: int) -> list[Generation]:
        """Unfinished generations no worker holds (never claimed, released, or expired)."""
        states = ", ".join(f"${i + 2}" for i in range(len(UNFINISHED)))
        rows = await self.store.fetch_all(
            f"SELECT {_COLUMNS} FROM kie_generations WHERE claimed_until < $1 "  # noqa: S608
            f"AND state IN ({states}) ORDER BY created_at",
            now,
            *(s.value for s in UNFINISHED),
        )
        return [Generation.from_row(r) for r in rows]

    async def claim(self, gen_id: str, worker: str, until: int, now: int) -> bool:
        """Take an unheld generation for *worker*; :obj:`True` for the one that got it."""
        changed = await self.store.execute(
            "UPDATE kie_generations SET claimed_by = $1, claimed_until = $2 "
            "WHERE id = $3 AND claimed_until < $4",
            worker,
            until,
            gen_id,
            now,
        )
        return changed == 1

    async def renew(self, gen_ids: list[str], worker: str, until: int) -> set[str]:
        """Extend *worker*'s claims on *gen_ids*; return the ids it still holds."""
        if not gen_ids:
            return set()
        ids = ", ".join(f"${i + 2}" for i in range(len(gen_ids)))
        await self.store.execute(
            f"UPDATE kie_generations SET claimed_until = ${len(gen_ids) + 2} "  # noqa: S608
            f"WHERE claimed_by = $1 AND id IN ({ids})",
            worker,
            *gen_ids,
            until,
        )
        rows = await self.store.fetch_all(
            f"SELECT id FROM kie_generations WHERE claimed_by = $1 AND id IN ({ids})",  # noqa: S608
            worker,
            *gen_ids,
        )
        return {str(row["id"]) for row in rows}

    async def release(self, worker: str) -> None:
        """Give up every claim of *worker* (it stops): other workers pick them up at once."""
        await self.store.execute(
            "UPDATE kie_generations SET claimed_until = 0 WHERE claimed_by = $1", worker
        )

    async def history(self, user_id: int, limit: int = 10) -> list[Generation]:
        """The user's latest generations, newest first."""
        rows = await self.store.fetch_all(
            f"SELECT {_COLUMNS} FROM kie_generations WHERE user_id = $1 "  # noqa: S608
            "ORDER BY created_at DESC LIMIT $2",
            user_id,
            limit,
        )
        return [Generation.from_row(r) for r in rows]

    # -- payments ------------------------------------------------------------------------
    async def record_payment(
        self, charge_id: str, *, user_id: int, package: str, stars: int, credits: int
    ) -> bool:
        """Record a Stars payment; :obj:`True` the first time this charge id is seen."""
        changed = await self.store.execute(
            "INSERT INTO kie_payments (charge_id, user_id, package, stars, credits, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (charge_id) DO NOTHING",
            charge_id,
            user_id,
            package,
            stars,
            credits,
            now_ms(),
        )
        return changed == 1

    async def payment(self, charge_id: str) -> Payment | None:
        """Return one payment."""
        row = await self.store.fetch_one(
            "SELECT charge_id, user_id, package, stars, credits, refunded_at FROM kie_payments "
            "WHERE charge_id = $1",
            charge_id,
        )
        if row is None:
            return None
        return Payment(
            row["charge_id"],
            int(row["user_id"]),
            row["package"],
            int(row["stars"]),
            int(row["credits"]),
            row["refunded_at"] is not None,
        )

    async def mark_refunded(self, charge_id: str) -> bool:
        """Mark a payment refunded; :obj:`True` for the one caller that did it."""
        changed = await self.store.execute(
            "UPDATE kie_payments SET refunded_at = $1 WHERE charge_id = $2 "
            "AND refunded_at IS NULL",
            now_ms(),
            charge_id,
        )
        return changed == 1

    async def unmark_refunded(self, charge_id: str) -> None:
        """Undo :meth:`mark_refunded` when Telegram refused the refund."""
        await self.store.execute(
            "UPDATE kie_payments SET refunded_at = NULL WHERE charge_id = $1", charge_id
        )

    async def stats(self) -> dict[str, int]:
        """Counts for the admin's ``/stats``."""
        users = await self.store.fetch_one("SELECT COUNT(*) AS n FROM kie_users")
        gens = await self.store.fetch_all(
            "SELECT state, COUNT(*) AS n FROM kie_generations GROUP BY state"
        )
        pays = await self.store.fetch_one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(stars), 0) AS stars FROM kie_payments "
            "WHERE refunded_at IS NULL"
        )
        by_state = {r["state"]: int(r["n"]) for r in gens}
        running = sum(by_state.get(s.value, 0) for s in UNFINISHED)
        return {
            "users": int(users["n"]) if users else 0,
            "generations": sum(by_state.values()),
            "done": by_state.get(State.DONE.value, 0),
            "refunded": by_state.get(State.REFUNDED.value, 0),
            "running": running,
            "payments": int(pays["n"]) if pays else 0,
            "stars": int(pays["stars"]) if pays else 0,
        }
