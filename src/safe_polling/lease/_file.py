"""A lease held as an ``flock`` on a file: one poller per host (or shared volume)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import stat
import threading
import time
from pathlib import Path

import anyio

from safe_polling.lease._base import (
    HolderInfo,
    LeaseError,
    LeaseLost,
    PollingLease,
    _default_version,
    _host_name,
    bot_id_from_token,
)

__all__ = ["FileLease"]

_log = logging.getLogger("safe_polling.lease")

# Why a lock file cannot be opened, in the operator's terms.
_OPEN_ERRORS: dict[type[OSError], str] = {
    FileNotFoundError: "its directory does not exist",
    NotADirectoryError: "a part of its directory path is not a directory",
    IsADirectoryError: "it is a directory",
    PermissionError: "permission denied",
}


def _same_file(path: Path, fd: int) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)


class _BlockingLock:
    """A blocking ``flock`` in a daemon thread that the awaiting task can abandon.

    ``flock`` cannot be interrupted from another thread, so a cancelled wait leaves the thread
    blocked; when the kernel grants it the lock later, the thread closes the descriptor at
    once, which releases the lock again.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._guard = threading.Lock()
        self._abandoned = False
        self._delivered = False

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[OSError | None] = loop.create_future()

        def deliver(error: OSError | None) -> None:
            if not done.done():
                done.set_result(error)

        def work() -> None:
            error: OSError | None = None
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError as exc:
                error = exc
            with self._guard:
                if self._abandoned:
                    os.close(self._fd)
                    return
                self._delivered = True
            try:
                loop.call_soon_threadsafe(deliver, error)
            except RuntimeError:  # the loop is closed: nobody will use the lock
                os.close(self._fd)

        threading.Thread(target=work, name="safe-polling flock", daemon=True).start()
        try:
            error = await done
        except BaseException:
            with self._guard:
                self._abandoned = True
                delivered = self._delivered
            if delivered:  # granted while we were being cancelled
                os.close(self._fd)
            raise
        if error is not None:
            os.close(self._fd)
            raise error


class FileLease(PollingLease):
    """A lease held as an exclusive ``fcntl.flock`` on a file.

    The kernel releases the lock when the holder's process ends, however it ends, and wakes a
    standby blocked in ``flock`` at once. The holder writes a JSON record (host, pid, start
    time, version) into the lock file so that :meth:`holder` can show it; a stale record left
    by a killed holder is ignored because :meth:`holder` also checks that the file is locked.

    Only processes that see the same file share the lease: one host or container, or a
    shared volume with working ``flock``. Across hosts use :class:`PostgresLease` or
    :class:`RedisLease`. Never delete the lock file while instances run; a holder whose file
    was deleted or replaced counts the lease as lost.

    Args:
        path: The lock file, an absolute path; created if missing (its directory must
            exist). A relative path is refused: two processes started from different
            working directories would lock two different files and both poll.
        bot_id: Bot id or token, only used in :meth:`describe`.
        name: Lease name, only used in :meth:`describe`.
        check_interval: Seconds between the holder's checks that its file is still in place.
        version: Version shown to other instances; defaults to the Render commit or the
            library version.

    Raises:
        LeaseError: *path* is relative.

    Example:
        >>> FileLease("/tmp/bot.lock", bot_id="123456:secret").describe()
        'file lease on /tmp/bot.lock (key 123456:default)'

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        bot_id: int | str | None = None,
        name: str = "default",
        check_interval: float = 1.0,
        version: str | None = None,
    ) -> None:
        super().__init__()
        self._path = Path(path)
        if not self._path.is_absolute():
            raise LeaseError(
                f"the lease file must be an absolute path, not {str(path)[:200]!r}: processes "
                "started from different directories would lock different files and all poll"
            )
        self._label = "" if bot_id is None else f" (key {bot_id_from_token(bot_id)}:{name})"
        self._check_interval = check_interval
        self._version = version or _default_version()
        self._fd: int | None = None
        self._info: HolderInfo | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def path(self) -> Path:
        """The lock file.

        .. versionadded:: 0.1.0
        """
        return self._path

    def describe(self) -> str:
        return f"file lease on {self._path}{self._label}"

    def _open(self) -> int:
        """The lock file opened (created if missing) for locking; LeaseError saying why not."""
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            reason = _OPEN_ERRORS.get(type(exc)) or exc.strerror or type(exc).__name__
            raise LeaseError(f"{self.describe()}: cannot open the lock file ({reason})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            # /dev/null opens and even locks, but holds no record and cannot be truncated.
            os.close(fd)
            raise LeaseError(f"{self.describe()}: the lock file is not a regular file")
        return fd

    def _took(self, fd: int) -> bool:
        """Finish taking the lock on ``fd``; False if the file was replaced meanwhile."""
        if not _same_file(self._path, fd):
            os.close(fd)
            return False
        started = time.time()
        self._info = HolderInfo(
            _host_name(), os.getpid(), dt.datetime.fromtimestamp(started, dt.UTC), self._version
        )
        record = {"host": self._info.host, "pid": self._info.pid, "since": started}
        record["version"] = self._version
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd
        self._mark_held()
        self._watcher = asyncio.create_task(self._watch(), name="safe-polling lease check")
        _log.debug("%s: lease acquired", self.describe())
        return True

    async def try_acquire(self) -> bool:
        while not self._held:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._took(fd)
        return True

    async def acquire(self) -> None:
        while not self._held:
            fd = self._open()
            await _BlockingLock(fd).wait()
            self._took(fd)

    async def ensure_held(self) -> None:
        self._require_held()
        if self._fd is None or not _same_file(self._path, self._fd):
            self._lose()
            raise LeaseLost(f"{self.describe()}: lease lost (lock file deleted or replaced)")

    async def _watch(self) -> None:
        with contextlib.suppress(LeaseLost):
            while self._held:
                await anyio.sleep(self._check_interval)
                if self._held:
                    await self.ensure_held()

    def _lose(self) -> None:
        if self._held:
            _log.warning("%s: lease lost (lock file deleted or replaced)", self.describe())
        self._mark_lost("lock file deleted or replaced")
        self._close(truncate=False)

    def _close(self, *, truncate: bool) -> None:
        task, self._watcher = self._watcher, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if truncate:
                os.ftruncate(fd, 0)  # no stale record once released
        os.close(fd)  # closing the descriptor releases the flock

    async def release(self) -> None:
        was_held = self._held
        self._mark_released()
        self._close(truncate=True)
        if was_held:
            _log.info("%s: lease released", self.describe())

    async def aclose(self) -> None:
        await self.release()

    async def holder(self) -> HolderInfo | None:
        if self._held:
            return self._info
        return await anyio.to_thread.run_sync(self._read_holder)

    def _read_holder(self) -> HolderInfo | None:
        # Open it as the lease will: the preflight must fail on a path the lease cannot use.
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _parse_record(os.pread(fd, 4096, 0))
            return None  # we could lock it: nobody holds it (a record would be stale)
        finally:
            os.close(fd)


def _parse_record(raw: bytes) -> HolderInfo:
    try:
        record = json.loads(raw)
        since = dt.datetime.fromtimestamp(float(record["since"]), dt.UTC)
        return HolderInfo(str(record["host"]), int(record["pid"]), since, str(record["version"]))
    except (ValueError, KeyError, TypeError):
        # The holder has locked the file but not written its record yet.
        return HolderInfo("unknown", None, None, "unknown")
