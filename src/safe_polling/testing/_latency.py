"""A simulated network round trip: how long the fake takes to answer, per method.

On loopback a Bot API call costs ~2 ms, while a bot hosted on Render, Railway or Fly is
30-100 ms away from Telegram: every extra call a library makes is paid in round trips there.
The fake waits half the round trip when a request arrives (the request's way there) and the
other half before its answer leaves (the way back), so the server sees a getUpdates, and the
409 rules apply to it, when a real server would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["Latency"]


def _checked(seconds: float, what: str) -> float:
    value = float(seconds)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number of seconds >= 0, got {seconds!r}")
    return value


class Latency:
    """The simulated round trip of every method, with per-method overrides.

    Args:
        seconds: The round trip of every call. Defaults to ``0.0``.
        per_method: Round trips of single methods (case-insensitive names), which win over
            ``seconds``.

    Raises:
        ValueError: A negative or non-finite number of seconds.

    .. versionadded:: 0.1.0
    """

    def __init__(self, seconds: float = 0.0, per_method: Mapping[str, float] | None = None):
        self.seconds = _checked(seconds, "latency")
        self.per_method: dict[str, float] = {}
        for method, value in (per_method or {}).items():
            self.set(value, method)

    def set(self, seconds: float, method: str | None = None) -> None:
        """Set the round trip of every call, or of one method when ``method`` is given."""
        value = _checked(seconds, f"latency of {method}" if method else "latency")
        if method is None:
            self.seconds = value
        else:
            self.per_method[method.lower()] = value

    def of(self, method: str) -> float:
        """The round trip of one call of ``method``, in seconds."""
        return self.per_method.get(method.lower(), self.seconds)

    def to_dict(self) -> dict[str, Any]:
        """``{"seconds": ..., "per_method": {...}}`` for the control API."""
        return {"seconds": self.seconds, "per_method": dict(self.per_method)}
