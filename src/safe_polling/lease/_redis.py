"""A lease held as a Redis key with a TTL, renewed in the background, released by CAS."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import anyio

from safe_polling.lease._base import (
    HolderInfo,
    LeaseError,
    LeaseLost,
    LeaseUnavailable,
    PollingLease,
    _default_version,
    _host_name,
    _split_url,
    bot_id_from_token,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = ["RedisLease"]

_log = logging.getLogger("safe_polling.lease")

# One round trip: take the key, or learn how long the holder's TTL still runs.
_ACQUIRE_LUA = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -3 end
return redis.call('pttl', KEYS[1])
"""
_EXTEND_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
# The release is published so that a standby wakes at once instead of at TTL expiry.
_RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('publish', KEYS[2], 'released')
  return 1
end
return 0
"""
_ACQUIRED = -3


class RedisLease(PollingLease):
    """A lease held as a Redis key ``SET NX PX`` with a random token, renewed by a task.

    The holder renews the key every ``renew_interval`` seconds (``ttl / 3`` by default);
    renewal and release are Lua compare-and-set scripts on the token, so a holder whose key
    expired can never extend or delete its successor's key. The lease counts as lost when a
    renewal finds the key gone or taken, or when no renewal succeeded for ``ttl`` seconds
    (measured from the start of the last successful request, so the local view expires no
    later than the key). A standby subscribes to a release channel and wakes at once on a
    release; after a crash it wakes when the dead holder's key expires (at most ``ttl``).

    As with any expiry-based lease, a holder paused for longer than ``ttl`` may briefly
    overlap with its successor: :meth:`ensure_held` before each ``getUpdates`` closes most of
    that window, Telegram's 409 Conflict the rest.

    Args:
        url: ``redis://`` or ``rediss://`` URL.
        bot_id: Bot id, or the bot token: only the part before ``':'`` is kept.
        name: Lease name, for several independent pollers of one bot.
        ttl: Seconds the key lives without renewal: the takeover time after a crash.
        renew_interval: Seconds between renewals; default ``ttl / 3``.
        key_prefix: Prefix of the Redis key ``<prefix>:<bot_id>:<name>``.
        version: Version shown to other instances; defaults to the Render commit or the
            library version.

    Example:
        >>> RedisLease("redis://:pw@cache:6379/0", bot_id=123456, ttl=10).describe()
        'redis lease on cache:6379/0 (key 123456:default, ttl 10s)'

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        url: str,
        *,
        bot_id: int | str,
        name: str = "default",
        ttl: float = 10.0,
        renew_interval: float | None = None,
        key_prefix: str = "safe-polling:lease",
        version: str | None = None,
    ) -> None:
        super().__init__()
        parts = _split_url(url, "the Redis lease URL")
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise LeaseError("Redis lease needs a redis://, rediss:// or unix:// URL")
        if ttl <= 0 or (renew_interval is not None and not 0 < renew_interval < ttl):
            raise LeaseError("Redis lease needs ttl > 0 and 0 < renew_interval < ttl")
        self._url = url
        self._where = f"{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
        self._bot_id = bot_id_from_token(bot_id)
        self._name = name
        self._ttl = ttl
        self._renew = renew_interval or ttl / 3
        self._key = f"{key_prefix}:{self._bot_id}:{name}"
        self._channel = f"{self._key}:released"
        self._version = version or _default_version()
        self._value = ""
        self._valid_until = 0.0
        self._client: Redis | None = None
        self._renewer: asyncio.Task[None] | None = None

    def describe(self) -> str:
        return (
            f"redis lease on {self._where} (key {self._bot_id}:{self._name}, ttl {self._ttl:g}s)"
        )

    @property
    def key(self) -> str:
        """The Redis key of this lease.

        .. versionadded:: 0.1.0
        """
        return self._key

    # -- plumbing ----------------------------------------------------------------------
    def _redis(self) -> Redis:
        if self._client is None:
            try:
                from redis.asyncio import Redis
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise LeaseError(
                    "RedisLease needs redis: pip install safe-polling[redis]"
                ) from exc
            timeout = min(5.0, self._ttl / 2)
            self._client = Redis.from_url(
                self._url,
                decode_responses=True,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
        return self._client

    async def _call(self, script: str, keys: list[str], args: list[Any]) -> int:
        from redis.exceptions import RedisError

        try:
            result = await self._redis().eval(script, len(keys), *keys, *args)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from None
        return int(result)

    def _failed(self, exc: Exception) -> LeaseError:
        """The lease error for a Redis failure: unreachable (retry) or anything else."""
        from redis.exceptions import AuthenticationError, ConnectionError, TimeoutError

        transient = (ConnectionError, TimeoutError, OSError)
        message = f"{self.describe()}: Redis failed ({type(exc).__name__})"
        if isinstance(exc, transient) and not isinstance(exc, AuthenticationError):
            return LeaseUnavailable(message)
        return LeaseError(message)

    def _new_value(self) -> str:
        record = {
            "token": uuid.uuid4().hex,
            "host": _host_name(),
            "pid": os.getpid(),
            "since": time.time(),
            "version": self._version,
        }
        return json.dumps(record, separators=(",", ":"))

    # -- acquiring ---------------------------------------------------------------------
    async def _attempt(self) -> int:
        """Try once; return :data:`_ACQUIRED` or the holder's remaining TTL in ms."""
        value = self._new_value()
        started = time.monotonic()
        result = await self._call(_ACQUIRE_LUA, [self._key], [value, int(self._ttl * 1000)])
        if result == _ACQUIRED:
            self._value = value
            self._valid_until = started + self._ttl
            self._mark_held()
            self._renewer = asyncio.create_task(
                self._renew_loop(), name="safe-polling lease renew"
            )
            _log.debug("%s: lease acquired", self.describe())
        return result

    async def try_acquire(self) -> bool:
        return self._held or await self._attempt() == _ACQUIRED

    async def acquire(self) -> None:
        if self._held:
            return
        pubsub = self._redis().pubsub()
        try:
            # Subscribe first: a release between a failed attempt and the wait is kept.
            await pubsub.subscribe(self._channel)
            while (remaining_ms := await self._attempt()) != _ACQUIRED:
                # -2: the key vanished meanwhile, retry at once; -1: a key without TTL (not
                # ours), look again after one TTL; else wake just after the holder's expiry.
                wait = self._ttl if remaining_ms == -1 else max(remaining_ms, 0) / 1000 + 0.002
                await self._wait_release(pubsub, min(wait, self._ttl))
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _wait_release(self, pubsub: PubSub, seconds: float) -> None:
        from redis.exceptions import RedisError

        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            except (RedisError, OSError):
                # The notification path is a shortcut only; the TTL bound still holds.
                await anyio.sleep(min(left, 0.5))
                continue
            if message is not None and message.get("type") == "message":
                return

    # -- holding -----------------------------------------------------------------------
    async def _renew_loop(self) -> None:
        from redis.exceptions import RedisError

        while self._held:
            await anyio.sleep(self._renew)
            started = time.monotonic()
            try:
                with anyio.fail_after(max(0.001, self._valid_until - started)):
                    extended = await self._redis().eval(
                        _EXTEND_LUA, 1, self._key, self._value, int(self._ttl * 1000)
                    )
            except (RedisError, OSError, TimeoutError) as exc:
                if time.monotonic() < self._valid_until:
                    _log.warning("%s: renewal failed (%s), retrying", self.describe(), exc)
                    continue
                self._lose(f"not renewed within the {self._ttl:g}s TTL")
                return
            if not extended:
                self._lose("key gone or taken by another instance")
                return
            self._valid_until = started + self._ttl

    def _lose(self, reason: str) -> None:
        if self._held:
            _log.warning("%s: lease lost (%s)", self.describe(), reason)
        task, self._renewer = self._renewer, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._mark_lost(reason)

    async def ensure_held(self) -> None:
        from redis.exceptions import RedisError

        self._require_held()
        left = self._valid_until - time.monotonic()
        reason = "TTL ran out without renewal"
        if left > 0:
            try:
                with anyio.fail_after(left):
                    if await self._redis().get(self._key) == self._value:
                        return
                reason = "key gone or taken by another instance"
            except (RedisError, OSError, TimeoutError) as exc:
                reason = f"check failed ({type(exc).__name__})"
        self._lose(reason)
        raise LeaseLost(f"{self.describe()}: lease lost ({reason})")

    # -- giving up ---------------------------------------------------------------------
    async def release(self) -> None:
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
        if not self._held:
            return
        self._mark_released()
        try:
            with anyio.fail_after(min(5.0, self._ttl)):
                await self._call(_RELEASE_LUA, [self._key, self._channel], [self._value])
        except (LeaseError, TimeoutError) as exc:
            # The key expires on its own within the TTL.
            _log.warning("%s: release failed (%s)", self.describe(), exc)
            return
        _log.info("%s: lease released", self.describe())

    async def aclose(self) -> None:
        await self.release()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def holder(self) -> HolderInfo | None:
        from redis.exceptions import RedisError

        try:
            raw = await self._redis().get(self._key)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from None
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            since = dt.datetime.fromtimestamp(float(record["since"]), dt.UTC)
            return HolderInfo(
                str(record["host"]),
                int(record["pid"]),
                since,
                str(record["version"]),
                f"key={self._key}",
            )
        except (ValueError, KeyError, TypeError):
            return HolderInfo("unknown", None, None, "unknown", f"key={self._key}")
