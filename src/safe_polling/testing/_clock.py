"""The fake's clock: real monotonic time plus whatever the test skipped ahead.

Query expiry (callback, inline, shipping, pre-checkout) and flood-control windows read this
clock, so a test advances it (:meth:`FakeBotAPI.advance_time`) instead of sleeping.
"""

from __future__ import annotations

import time

__all__ = ["Clock"]


class Clock:
    """Monotonic seconds, advanced by the test on demand."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def now(self) -> float:
        """Seconds on the fake's clock."""
        return time.monotonic() + self.skipped

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back).

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.skipped += seconds
