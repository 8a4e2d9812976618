"""The lease protocol shared by every backend, its errors and the holder record."""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import os
import socket
from types import TracebackType
from typing import Self
from urllib.parse import SplitResult, urlsplit

import anyio

__all__ = [
    "HolderInfo",
    "LeaseError",
    "LeaseLost",
    "LeaseUnavailable",
    "PollingLease",
    "bot_id_from_token",
]


class LeaseError(Exception):
    """The lease cannot work as configured.

    Raised for a bad configuration, an unsupported server (for example a transaction-mode
    connection pooler in front of PostgreSQL) or a lease server that cannot be reached. The
    message says what to fix and never contains a password or a bot token.

    .. versionadded:: 0.1.0
    """


class LeaseUnavailable(LeaseError):
    """The lease backend cannot be reached now (refused, timed out, starting up).

    Unlike a bad configuration this may pass: :func:`safe_polling.run_polling` stands by
    and retries with backoff, and the preflight reports it as a warning, not a failure,
    so that a backend restart does not put the bot into a platform restart loop.

    .. versionadded:: 0.1.0
    """


class LeaseLost(Exception):
    """This process no longer surely holds the lease.

    Raised by :meth:`PollingLease.ensure_held`. The caller must stop polling at once: another
    instance may already be polling the same bot.

    .. versionadded:: 0.1.0
    """


@dataclasses.dataclass(frozen=True)
class HolderInfo:
    """Who holds a lease, as far as the backend can tell.

    Args:
        host: Host name of the holder (possibly truncated by the backend).
        pid: Process id of the holder on its host, :obj:`None` if unknown.
        started_at: When the holder took the lease (UTC), :obj:`None` if unknown.
        version: Version string the holder reported (a commit or the library version).
        backend_id: Backend-specific identity, e.g. ``"backend_pid=4242 client=10.0.0.5"``.

    Example:
        >>> str(HolderInfo("web-1", 42, None, "0.1.0"))
        'host=web-1 pid=42 version=0.1.0'

    .. versionadded:: 0.1.0
    """

    host: str
    pid: int | None
    started_at: dt.datetime | None
    version: str
    backend_id: str = ""

    def __str__(self) -> str:
        parts = [f"host={self.host}", f"pid={self.pid if self.pid is not None else '?'}"]
        if self.started_at is not None:
            parts.append(f"since {_format_utc(self.started_at)}")
        parts.append(f"version={self.version}")
        if self.backend_id:
            parts.append(self.backend_id)
        return " ".join(parts)


def _format_utc(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    today = dt.datetime.now(dt.UTC).date()
    # A time alone reads best in a log line; older leases need their date.
    fmt = "%H:%M:%SZ" if utc.date() == today else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(fmt)


def bot_id_from_token(token: str | int) -> int:
    """Return the numeric bot id of a bot token, never touching the secret part.

    Args:
        token: A bot token such as ``"123456:ABC-DEF..."``, or the bot id itself.

    Returns:
        The bot id (the part before ``':'``).

    Raises:
        LeaseError: The value does not start with a positive number. The message does not
            contain the value.

    Example:
        >>> bot_id_from_token("123456:secret")
        123456

    .. versionadded:: 0.1.0
    """
    if isinstance(token, bool):
        raise LeaseError("bot id must be a number or a bot token, not a bool")
    head = str(token) if isinstance(token, int) else token.strip().split(":", 1)[0]
    if not head.isdigit() or int(head) <= 0:
        # Never echo the value: it may be a whole token with its secret.
        raise LeaseError("bot id must be a positive number or a bot token like '123456:ABC...'")
    return int(head)


def _split_url(url: str, what: str) -> SplitResult:
    """*url* split, or a LeaseError naming *what* (never the URL: it may hold a password)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port only raises when read
    except ValueError:
        raise LeaseError(f"{what} is not a valid URL (malformed host or port)") from None
    return parts


def _host_name() -> str:
    return socket.gethostname() or "unknown"


def _default_version() -> str:
    # On Render the commit identifies the deploy best; elsewhere the library version.
    commit = os.environ.get("RENDER_GIT_COMMIT", "")
    if commit:
        return commit[:7]
    from safe_polling import __version__  # late: the package imports us

    return __version__


class PollingLease(abc.ABC):
    """A lease that lets exactly one process poll a bot token, across processes and hosts.

    Every backend implements this protocol. The expected use::

        async with lease:
            await lease.acquire()          # stands by while another instance polls
            while polling:
                await lease.ensure_held()  # fence before each getUpdates
                ...
        # leaving the block releases the lease so the standby takes over at once

    While the lease is held, :meth:`wait_lost` (or :attr:`lost`) completes as soon as the
    backend notices the loss (dropped connection, expired or deleted key, replaced lock
    file), so the poller can stop before its next fence check. A voluntary :meth:`release`
    does not count as a loss.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._held = False
        self._lost: anyio.Event | None = None
        self._loss_reason = ""

    # -- the protocol ------------------------------------------------------------------
    @abc.abstractmethod
    async def try_acquire(self) -> bool:
        """Try once to take the lease, without waiting for the holder.

        Returns:
            :obj:`True` if this process holds the lease now (also when it already did).

        Raises:
            LeaseError: The backend cannot be used (unreachable, misconfigured).

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    async def acquire(self) -> None:
        """Wait until this process holds the lease.

        The wait is on the lock itself, so a release, or the death of the holder process, is
        noticed at once (Redis: at once on release, within the TTL after a crash).
        Cancelling the wait leaves nothing held.

        Raises:
            LeaseError: The backend cannot be used (unreachable, misconfigured).

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    async def ensure_held(self) -> None:
        """Check with the backend that this process still holds the lease.

        Call it right before each ``getUpdates``: it costs at most one round trip.

        Raises:
            LeaseLost: The lease is not surely held (never taken, released, lost).

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    async def release(self) -> None:
        """Give the lease up so that a standby takes over at once.

        Idempotent; never raises for a lease that is not held or whose connection is gone.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    async def holder(self) -> HolderInfo | None:
        """Return who holds the lease now, or :obj:`None` if nobody does.

        Works from any process, holder or not; meant for logs and preflight checks.

        Raises:
            LeaseError: The backend cannot be reached.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the lease and close every connection. Idempotent.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    def describe(self) -> str:
        """Return a one-line description for logs, without any secret.

        Example: ``"postgres lease on 127.0.0.1:5432/test (key 123456:default)"``.

        .. versionadded:: 0.1.0
        """

    # -- shared behaviour --------------------------------------------------------------
    @property
    def held(self) -> bool:
        """Whether this process believes it holds the lease (local view, no round trip).

        .. versionadded:: 0.1.0
        """
        return self._held

    @property
    def lost(self) -> anyio.Event:
        """An event set when the lease held by this process is lost.

        A new event is made each time the lease is taken; read the property after
        :meth:`acquire`. A voluntary :meth:`release` does not set it.

        .. versionadded:: 0.1.0
        """
        if self._lost is None:
            self._lost = anyio.Event()
        return self._lost

    async def wait_lost(self) -> None:
        """Wait until the lease held by this process is lost (see :attr:`lost`).

        .. versionadded:: 0.1.0
        """
        await self.lost.wait()

    def _mark_held(self) -> None:
        # A fresh event per tenure: a loss of an earlier tenure must not stop this one.
        self._lost = anyio.Event()
        self._held = True
        self._loss_reason = ""

    def _mark_lost(self, reason: str) -> None:
        if self._held:
            self._held = False
            self._loss_reason = reason
            self.lost.set()

    def _mark_released(self) -> None:
        self._held = False
        self._loss_reason = ""

    def _require_held(self) -> None:
        if not self._held:
            # After a loss, keep saying why: the poller logs the fence failure, not the event.
            state = f"lease lost ({self._loss_reason})" if self._loss_reason else "not held"
            raise LeaseLost(f"{self.describe()}: {state}")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Shielded: a cancelled task must still release, or the standby waits for a timeout.
        with anyio.CancelScope(shield=True):
            await self.aclose()
