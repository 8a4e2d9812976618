"""What this instance is doing right now, for logs and the health endpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from ._metrics import role_changed

Role = Literal["starting", "standby", "worker", "leader", "stopping"]


@dataclass
class PollingStatus:
    """The live state of one :func:`safe_polling.run_polling` instance.

    The runner sets :attr:`role`; the getUpdates gate stamps
    :attr:`last_get_updates_ok` after each successful getUpdates. Times are
    :func:`time.monotonic` seconds.
    """

    version: str
    role: Role = "starting"
    started_at: float = field(default_factory=time.monotonic)
    last_get_updates_ok: float | None = None
    leader_since: float | None = None
    #: Scale-out figures (backlog, oldest unhandled age, partitions owned, handled here).
    queue: dict[str, Any] | None = None

    def mark_get_updates_ok(self) -> None:
        """Record a successful getUpdates (called by the gate)."""
        self.last_get_updates_ok = time.monotonic()

    def set_role(self, role: Role) -> None:
        """Change the role; entering ``leader`` restarts the getUpdates clock."""
        role_changed(self.role, role)
        if role == "leader" and self.role != "leader":
            self.leader_since = time.monotonic()
            self.last_get_updates_ok = None
        self.role = role

    def get_updates_age(self) -> float | None:
        """Seconds since the last successful getUpdates, or None if none yet."""
        if self.last_get_updates_ok is None:
            return None
        return time.monotonic() - self.last_get_updates_ok
