"""Flood control (opt-in): Telegram's send limits as token buckets on the fake's clock.

Telegram documents its limits only roughly (core.telegram.org/bots/faq, "My bot is hitting
limits"): avoid more than one message per second in a chat (short bursts pass), about 30
messages per second overall, and at most 20 messages per minute in a group. Past a limit the
real server answers ``429 Too Many Requests: retry after N`` with ``parameters.retry_after``;
so does the fake, with N the whole seconds until the bucket has room again. Buckets refill on the
fake's clock, so a test moves past a limit with :meth:`FakeBotAPI.advance_time`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from safe_polling.testing._params import ApiError

__all__ = ["FloodLimits", "Limiter", "too_many_requests"]


def too_many_requests(retry_after: int) -> ApiError:
    """The real 429 answer."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


@dataclass(frozen=True)
class FloodLimits:
    """Send limits: each is (messages, per seconds); the count is also the burst allowed.

    Attributes:
        per_chat (:obj:`tuple`): Messages per private chat. Default ``(3, 3.0)``: one a second
            on average, three at once.
        per_group (:obj:`tuple`): Messages per group or channel. Default ``(20, 60.0)``.
        overall (:obj:`tuple`): Messages of one bot in all chats. Default ``(30, 1.0)``.

    .. versionadded:: 0.1.0
    """

    per_chat: tuple[int, float] = (3, 3.0)
    per_group: tuple[int, float] = (20, 60.0)
    overall: tuple[int, float] = (30, 1.0)


@dataclass
class _Bucket:
    capacity: int
    period: float
    tokens: float
    updated: float

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 if one is)."""
        rate = self.capacity / self.period
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate


@dataclass
class Limiter:
    """The buckets of one bot."""

    limits: FloodLimits
    buckets: dict[tuple[str, int], _Bucket] = field(default_factory=dict)

    def _bucket(self, key: tuple[str, int], limit: tuple[int, float], now: float) -> _Bucket:
        found = self.buckets.get(key)
        if found is None:
            found = _Bucket(limit[0], limit[1], float(limit[0]), now)
            self.buckets[key] = found
        return found

    def take(self, chat_id: int, now: float) -> None:
        """Count one message to ``chat_id``.

        Raises:
            ApiError: 429 with ``retry_after`` when a limit is reached (nothing is counted).
        """
        limits = self.limits
        chat_limit = limits.per_chat if chat_id > 0 else limits.per_group
        buckets = [
            self._bucket(("chat", chat_id), chat_limit, now),
            self._bucket(("all", 0), limits.overall, now),
        ]
        wait = max(b.wait(now) for b in buckets)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.tokens -= 1
