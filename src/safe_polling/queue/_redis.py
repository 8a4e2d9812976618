"""The update queue on Redis Streams: one stream per partition, one consumer group of workers.

Each partition is a stream read through the consumer group ``workers``. A
partition is owned by one worker at a time through a key ``SET NX PX`` renewed
with the worker's membership in one script (:data:`_REBALANCE_LUA`), which also
balances the load: idle partitions above a fair share are given back, and a
worker with less backlog asks for a busy partition of a worker with more, which
hands it over after its update in flight (the busy partitions follow the work,
not the count); a dead worker's keys expire after the TTL. A new
owner first claims the entries its predecessor had read and not acknowledged
(``XPENDING`` then ``XCLAIM``, which counts deliveries), so they are handled
again before anything newer. An acknowledged entry is deleted (``XACK`` and
``XDEL`` in one round trip): the streams hold exactly the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from safe_polling._batcher import Batcher
from safe_polling._tasks import cancel_and_wait
from safe_polling.lease._base import _host_name, bot_id_from_token
from safe_polling.queue._base import (
    QueuedUpdate,
    QueueError,
    QueueStats,
    UpdateQueue,
    encode_update,
    partition_of,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisQueue"]

logger = logging.getLogger("safe_polling.queue")

_GROUP = "workers"
# Entries read ahead per partition: a chat's next update is then already here when
# the previous one is acknowledged, instead of one more blocking read away.
_PREFETCH = 16
# The longest a blocking read waits before the pump looks at ownership again; a
# partition claimed meanwhile waits at most this long for its first read.
_BLOCK_MS = 100
# While other partitions still have updates buffered, a read of the empty ones blocks only
# this long: a partition emptied meanwhile is read again soon instead of after _BLOCK_MS
# (the worker would sit idle at the end of a burst). Costs up to 50 reads/s while busy.
_BUSY_BLOCK_MS = 20
# Pending entries claimed per round when a partition changes owner.
_CLAIM_BATCH = 100

# How often a worker renews its partitions and looks at the balance (at most a third of
# the ownership TTL): an idle worker asks for a busy partition, and the busy owner hands it
# over, within a period or two. Each time is one short script, ~50 commands inside Redis.
_BALANCE_EVERY = 0.25

# Renew membership and owned partitions, drop dead members, claim free partitions up to a
# fair share, and balance the load: a worker with less backlog asks (a "want" key) for the
# longest partition of a worker with two or more busy ones when moving it narrows the gap,
# and learns which of its own partitions others ask for.
# Returns {share, k, k owned partitions, their k backlogs, partitions asked for...}; the
# caller gives back a surplus and the partitions asked for.
# KEYS[1] members zset; ARGV: owner-key prefix, worker, ttl ms, partitions, stream prefix,
# want-key prefix.
_REBALANCE_LUA = """
local members, prefix, worker = KEYS[1], ARGV[1], ARGV[2]
local ttl, n = tonumber(ARGV[3]), tonumber(ARGV[4])
local streams, wants = ARGV[5], ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', members, now + ttl, worker)
redis.call('ZREMRANGEBYSCORE', members, '-inf', now)
redis.call('PEXPIRE', members, ttl * 10)
local share = math.ceil(n / redis.call('ZCARD', members))
local owners, lengths, mine, asked = {}, {}, {}, {}
local wanting = false
for i = 0, n - 1 do
  owners[i] = redis.call('GET', prefix .. i)
  lengths[i] = redis.call('XLEN', streams .. i)
  local want = redis.call('GET', wants .. i)
  if want == worker then wanting = true end
  if owners[i] == worker then
    redis.call('PEXPIRE', prefix .. i, ttl)
    table.insert(mine, i)
    if want and want ~= worker then table.insert(asked, i) end
  end
end
for i = 0, n - 1 do
  if #mine >= share then break end
  if redis.call('SET', prefix .. i, worker, 'NX', 'PX', ttl) then
    owners[i] = worker
    table.insert(mine, i)
  end
end
local backlog, busy = {}, {}
for i = 0, n - 1 do
  local owner = owners[i]
  if owner then
    backlog[owner] = (backlog[owner] or 0) + lengths[i]
    if lengths[i] > 0 then busy[owner] = (busy[owner] or 0) + 1 end
  end
end
if not wanting then
  local ours, best, best_length = backlog[worker] or 0, -1, 1
  for i = 0, n - 1 do
    local owner, length = owners[i], lengths[i]
    if owner and owner ~= worker and (busy[owner] or 0) >= 2 and length > best_length
        and ours + length <= backlog[owner] - length then
      best, best_length = i, length
    end
  end
  if best >= 0 then redis.call('SET', wants .. best, worker, 'NX', 'PX', ttl) end
end
local out = {share, #mine}
for _, i in ipairs(mine) do table.insert(out, i) end
for _, i in ipairs(mine) do table.insert(out, lengths[i]) end
for _, i in ipairs(asked) do table.insert(out, i) end
return out
"""
# Give back some partitions with nothing in flight: to the live worker that asked for one,
# else to whoever claims it. What this worker only read ahead was never handed to a
# handler, so its delivery count goes back down: a hand-over is not a failed delivery.
# KEYS[1] members zset; ARGV: owner-key prefix, worker, stream prefix, want-key prefix,
# ttl ms, group, partitions...
_RELEASE_LUA = """
local prefix, worker, streams, wants = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, group = tonumber(ARGV[5]), ARGV[6]
for i = 7, #ARGV do
  local key, stream = prefix .. ARGV[i], streams .. ARGV[i]
  if redis.call('GET', key) == worker then
    local pending = redis.call('XPENDING', stream, group, '-', '+', 1000, worker)
    for _, entry in ipairs(pending) do
      redis.call('XCLAIM', stream, group, worker, 0, entry[1],
                 'RETRYCOUNT', math.max(0, entry[4] - 1), 'JUSTID')
    end
    local want = redis.call('GET', wants .. ARGV[i])
    redis.call('DEL', wants .. ARGV[i])
    if want and want ~= worker and redis.call('ZSCORE', KEYS[1], want) then
      redis.call('SET', key, want, 'PX', ttl)
    else
      redis.call('DEL', key)
    end
  end
end
return 1
"""
# Leave: drop the membership and every partition key still ours.
_LEAVE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[2])
for i = 0, tonumber(ARGV[3]) - 1 do
  local key = ARGV[1] .. i
  if redis.call('GET', key) == ARGV[2] then redis.call('DEL', key) end
end
return 1
"""


class RedisQueue(UpdateQueue):
    """An :class:`UpdateQueue` on Redis Streams with a consumer group, across hosts.

    Keys live under ``safe-polling:queue:<bot_id>:<name>``: the partition
    streams ``...:s:<n>``, their owner keys ``...:o:<n>``, the members
    ``...:members`` and the dead-letter stream ``...:dead``.

    Durability is Redis's: with ``appendonly yes`` and ``appendfsync always`` an
    appended update survives a Redis crash; with ``everysec`` (Redis's default
    for AOF) up to one second of appends and acknowledgements can be lost, so
    run the poller's confirmations through at-least-once records as
    :func:`safe_polling.run_polling` does.

    Args:
        url: ``redis://`` or ``rediss://`` URL.
        bot_id: The bot token or id (only the id is used).
        name: Separates several queues of one bot.
        **options: See :class:`UpdateQueue`.

    Raises:
        QueueError: A URL that is not ``redis://`` or ``rediss://``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, url: str, *, bot_id: str | int, name: str = "default", **options: Any):
        super().__init__(**options)
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise QueueError("the queue URL must start with redis://, rediss:// or unix://")
        self._url = url
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"
        self._prefix = f"safe-polling:queue:{bot_id_from_token(bot_id)}:{name}"
        self.worker = f"{_host_name()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._client: Redis | None = None
        self._owned: set[int] = set()
        self._recovered: set[int] = set()  # owned partitions whose pending entries are ours
        self._buffers: dict[int, deque[QueuedUpdate]] = {}
        self._in_flight: set[int] = set()
        self._draining: set[int] = set()  # still ours until their update in flight is acked
        self._ready = asyncio.Event()
        self._emptied = asyncio.Event()  # a buffer ran empty: the pump reads again
        self._pump: asyncio.Task[None] | None = None
        self._last_rebalance = 0.0
        self._groups_ready = False
        self._stopping = False
        self._acks = Batcher(self._ack_all)

    # -- keys ------------------------------------------------------------------------------
    def _stream(self, partition: int) -> str:
        return f"{self._prefix}:s:{partition}"

    @property
    def _dead(self) -> str:
        return f"{self._prefix}:dead"

    @property
    def _members(self) -> str:
        return f"{self._prefix}:members"

    def describe(self) -> str:
        return f"redis queue on {self._where} ({self._prefix}, {self.partitions} partitions)"

    def _redis(self) -> Redis:
        if self._client is None:
            try:
                from redis.asyncio import Redis
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise QueueError(
                    "RedisQueue needs redis: pip install safe-polling[redis]"
                ) from exc
            self._client = Redis.from_url(
                self._url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=5.0
            )
        return self._client

    async def _guard(self, what: str, call: Any) -> Any:
        """Await a Redis call, translating its failure into a :class:`QueueError`."""
        from redis.exceptions import RedisError

        try:
            return await call
        except (RedisError, OSError) as exc:
            raise QueueError(f"{self.describe()}: {what} failed ({type(exc).__name__})") from None

    # -- joining and leaving ---------------------------------------------------------------
    async def start(self) -> None:
        await self._ensure_groups()
        await self._rebalance()
        if self._pump is None:
            self._pump = asyncio.create_task(self._pump_forever())

    async def _ensure_groups(self) -> None:
        """Create the consumer group of every partition (again after a Redis that lost them)."""
        from redis.exceptions import RedisError, ResponseError

        client = self._redis()
        for partition in range(self.partitions):
            stream = self._stream(partition)
            try:
                await client.xgroup_create(stream, _GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise QueueError(
                        f"{self.describe()}: creating the consumer group failed"
                    ) from None
            except (RedisError, OSError) as exc:
                raise QueueError(
                    f"{self.describe()}: unreachable ({type(exc).__name__})"
                ) from None
        self._groups_ready = True

    async def aclose(self) -> None:
        await self._stop_pump()
        if self._client is not None:
            with contextlib.suppress(QueueError):
                await self._guard(
                    "leaving",
                    self._client.eval(
                        _LEAVE_LUA,
                        1,
                        self._members,
                        f"{self._prefix}:o:",
                        self.worker,
                        self.partitions,
                    ),
                )
            await self._client.aclose()
            self._client = None
        self._forget(set(self._owned))

    async def _stop_pump(self) -> None:
        # Not cancelled mid-read: redis-py can hang when a blocking XREADGROUP is
        # cancelled, so the pump is asked to stop and finishes its read (at most
        # _BLOCK_MS); cancelling stays the fallback for a pump stuck on a dead server.
        if self._pump is None:
            return
        self._stopping = True
        try:
            await asyncio.wait_for(asyncio.shield(self._pump), timeout=_BLOCK_MS / 1000 + 5.0)
        except TimeoutError:
            await cancel_and_wait(self._pump)
        self._pump = None
        self._stopping = False

    async def abandon(self) -> None:
        """Stop as a killed process would: renew nothing, hand nothing over (for tests).

        .. versionadded:: 0.1.0
        """
        await self._stop_pump()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- ownership -------------------------------------------------------------------------
    async def _rebalance(self) -> None:
        self._last_rebalance = time.monotonic()
        answer = await self._guard(
            "renewing partition ownership",
            self._redis().eval(
                _REBALANCE_LUA,
                1,
                self._members,
                f"{self._prefix}:o:",
                self.worker,
                int(self.ownership_ttl * 1000),
                self.partitions,
                f"{self._prefix}:s:",
                f"{self._prefix}:w:",
            ),
        )
        share, count = int(answer[0]), int(answer[1])
        owned = [int(p) for p in answer[2 : 2 + count]]
        lengths = answer[2 + count : 2 + 2 * count]
        backlog = {p: int(n) for p, n in zip(owned, lengths, strict=True)}
        asked = {int(p) for p in answer[2 + 2 * count :]}
        mine = set(owned)
        self._gained |= mine - self._owned - self._draining
        self._forget((self._owned | self._draining) - mine)  # expired: already someone else's
        self._draining &= mine
        self._owned = mine - self._draining
        self._give_back(asked & self._owned)
        surplus = len(mine) - share - len(self._draining)
        if surplus > 0:
            # Only idle partitions go back for the count's sake: a busy one moves when a
            # worker with less backlog asks for it, so a partition taken over on request
            # does not go straight back, and a joining worker still gets busy ones.
            idle = sorted(p for p in self._owned if not backlog[p] and p not in self._in_flight)
            self._give_back(set(idle[:surplus]))
        await self._release_idle()

    def _give_back(self, partitions: set[int]) -> None:
        """Stop serving *partitions*; each is released once nothing of it is in flight."""
        self._forget(partitions)
        self._draining |= partitions

    async def _release_idle(self) -> None:
        """Give back the draining partitions with nothing in flight."""
        idle = sorted(self._draining - self._in_flight)
        if not idle:
            return
        await self._guard(
            "giving partitions back",
            self._redis().eval(
                _RELEASE_LUA,
                1,
                self._members,
                f"{self._prefix}:o:",
                self.worker,
                f"{self._prefix}:s:",
                f"{self._prefix}:w:",
                int(self.ownership_ttl * 1000),
                _GROUP,
                *idle,
            ),
        )
        self._draining -= set(idle)

    def _forget(self, partitions: set[int]) -> None:
        """Drop what was read ahead from partitions no longer ours: the next owner claims it."""
        for partition in partitions:
            self._buffers.pop(partition, None)
            self._recovered.discard(partition)
        self._owned -= partitions

    async def owned(self) -> frozenset[int]:
        return frozenset(self._owned)

    # -- the pump: ownership, recovery and reads in one task ---------------------------------
    async def _pump_forever(self) -> None:
        delay = 0.1
        while not self._stopping:
            try:
                await self._pump_once()
                delay = 0.1
            except QueueError as exc:
                logger.warning("⚠️ Update queue unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.ownership_ttl / 3)
                self._groups_ready = False
                # A read whose answer was lost left entries pending to this worker that
                # it never saw: claim its own pending entries again before reading on.
                self._recovered.clear()

    async def _pump_once(self) -> None:
        if not self._groups_ready:
            await self._ensure_groups()
        if time.monotonic() - self._last_rebalance >= min(self.ownership_ttl / 3, _BALANCE_EVERY):
            await self._rebalance()
        for partition in sorted(self._owned - self._recovered - self._in_flight):
            await self._recover(partition)
        self._emptied.clear()
        readable = [p for p in sorted(self._recovered & self._owned) if not self._buffers.get(p)]
        if not readable:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._emptied.wait(), _BLOCK_MS / 1000)
            return
        busy = any(self._buffers.get(p) for p in self._owned)
        await self._read(readable, _BUSY_BLOCK_MS if busy else _BLOCK_MS)

    async def _recover(self, partition: int) -> None:
        """Claim what earlier owners read and never acknowledged, oldest first."""
        client = self._redis()
        stream = self._stream(partition)
        pending = await self._guard(
            "reading pending entries",
            client.xpending_range(stream, _GROUP, min="-", max="+", count=_CLAIM_BATCH),
        )
        buffer = self._buffers.setdefault(partition, deque())
        buffer.clear()
        if pending:
            delivered = {p["message_id"]: int(p["times_delivered"]) for p in pending}
            ids = list(delivered)
            # Only the oldest pending entry can have been handed to a handler (the
            # ones after it wait for its ack): it counts one more delivery, unless it is
            # this worker's own (claimed again after a Redis error: nobody died with it).
            # The others were only read ahead; they count as freshly read, once.
            own = pending[0]["consumer"] == self.worker
            first = delivered[ids[0]] + (0 if own else 1)
            head = await self._guard(
                "claiming pending entries",
                client.xclaim(stream, _GROUP, self.worker, 0, ids[:1], retrycount=first),
            )
            rest = []
            if len(ids) > 1:
                rest = await self._guard(
                    "claiming pending entries",
                    client.xclaim(stream, _GROUP, self.worker, 0, ids[1:], retrycount=1),
                )
            for entry_id, fields in [*head, *rest]:
                if fields is None:  # deleted meanwhile
                    continue
                deliveries = first if entry_id == ids[0] else 1
                item = _item(partition, entry_id, fields, deliveries)
                if item.deliveries > self.max_deliveries:  # handed out deliveries - 1 times
                    await self._dead_letter(dataclasses.replace(item, deliveries=deliveries - 1))
                else:
                    buffer.append(item)
        if len(pending) < _CLAIM_BATCH:
            self._recovered.add(partition)
        if buffer:
            self._ready.set()

    async def _dead_letter(self, item: QueuedUpdate) -> None:
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.xadd(self._dead, {"u": encode_update(item.update), "p": str(item.partition)})
            pipe.xack(self._stream(item.partition), _GROUP, item.entry_id)
            pipe.xdel(self._stream(item.partition), item.entry_id)
            await self._guard("moving to the dead-letter stream", pipe.execute())
        self.dead_letter_log(item)

    async def _read(self, partitions: list[int], block_ms: int) -> None:
        answer = await self._guard(
            "reading updates",
            self._redis().xreadgroup(
                _GROUP,
                self.worker,
                {self._stream(p): ">" for p in partitions},
                count=_PREFETCH,
                block=block_ms,
            ),
        )
        by_stream = {self._stream(p): p for p in partitions}
        for stream, entries in answer or []:
            partition = by_stream[stream]
            if partition not in self._owned:  # given back while reading: the next owner claims
                continue
            buffer = self._buffers.setdefault(partition, deque())
            buffer.extend(_item(partition, eid, fields, 1) for eid, fields in entries)
        if answer:
            self._ready.set()

    # -- the protocol ----------------------------------------------------------------------
    async def put(self, updates: Sequence[dict[str, Any]]) -> None:
        if not updates:
            return
        now = f"{time.time():.6f}"
        async with self._redis().pipeline(transaction=True) as pipe:
            for update in updates:
                stream = self._stream(partition_of(update, self.partitions))
                pipe.xadd(stream, {"u": encode_update(update), "t": now})
            await self._guard("appending updates", pipe.execute())

    async def take(self, timeout: float) -> QueuedUpdate | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            item = self._next()
            if item is not None:
                return item
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), remaining)

    def _next(self) -> QueuedUpdate | None:
        """The oldest buffered entry of an owned partition with nothing in flight."""
        candidates = [
            (buffer[0].enqueued_at, partition)
            for partition, buffer in self._buffers.items()
            if buffer and partition in self._owned and partition not in self._in_flight
        ]
        if not candidates:
            return None
        _, partition = min(candidates)
        self._in_flight.add(partition)
        buffer = self._buffers[partition]
        item = buffer.popleft()
        if not buffer:
            self._emptied.set()
        return item

    async def ack(self, item: QueuedUpdate) -> None:
        # On failure the partition stays in flight: its next update waits until the
        # caller's retry acknowledges this one (or the partition moves on with it).
        await self._acks.submit(item)
        self._in_flight.discard(item.partition)
        self._ready.set()
        self.handled += 1
        if item.partition in self._draining:
            await self._release_idle()

    async def _ack_all(self, items: list[QueuedUpdate]) -> list[None]:
        """Acknowledge and delete *items* in one round trip (those acked meanwhile, together)."""
        # MULTI: an acknowledged entry left in the stream would count as backlog forever.
        async with self._redis().pipeline(transaction=True) as pipe:
            for item in items:
                pipe.xack(self._stream(item.partition), _GROUP, item.entry_id)
                pipe.xdel(self._stream(item.partition), item.entry_id)
            await self._guard("acknowledging updates", pipe.execute())
        return [None] * len(items)

    async def stats(self) -> QueueStats:
        client = self._redis()
        async with client.pipeline(transaction=False) as pipe:
            for partition in range(self.partitions):
                pipe.xlen(self._stream(partition))
                pipe.xrange(self._stream(partition), count=1)
            pipe.xlen(self._dead)
            pipe.time()
            answers = await self._guard("reading the backlog", pipe.execute())
        lengths, firsts = answers[0:-2:2], answers[1:-2:2]
        seconds, micros = answers[-1]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        oldest = min((int(first[0][0].split("-")[0]) for first in firsts if first), default=None)
        return QueueStats(
            backlog=sum(int(n) for n in lengths),
            oldest_age=0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000),
            partitions_owned=len(self._owned),
            handled=self.handled,
            dead_letters=int(answers[-2]),
        )

    async def wait_for_room(self, poll: float = 0.05) -> None:
        """Wait while the backlog is at or above :attr:`max_backlog` (one round trip a poll).

        Raises:
            QueueError: Redis failed.
        """
        client = self._redis()
        while True:
            async with client.pipeline(transaction=False) as pipe:
                for partition in range(self.partitions):
                    pipe.xlen(self._stream(partition))
                lengths = await self._guard("reading the backlog", pipe.execute())
            if sum(int(n) for n in lengths) < self.max_backlog:
                return
            await asyncio.sleep(poll)

    async def dead_letters(self, count: int = 100) -> list[dict[str, Any]]:
        """The updates in the dead-letter stream, oldest first.

        Args:
            count: At most this many.

        Returns:
            The updates as Telegram sent them.

        .. versionadded:: 0.1.0
        """
        import json

        entries = await self._guard(
            "reading dead letters", self._redis().xrange(self._dead, count=count)
        )
        return [json.loads(fields["u"]) for _, fields in entries]


def _item(partition: int, entry_id: str, fields: dict[str, str], deliveries: int) -> QueuedUpdate:
    import json

    return QueuedUpdate(
        update=json.loads(fields["u"]),
        partition=partition,
        entry_id=entry_id,
        deliveries=deliveries,
        enqueued_at=float(fields.get("t", "0")),
    )
