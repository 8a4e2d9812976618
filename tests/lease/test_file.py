"""File lease specifics: the holder record, a replaced lock file, stale records."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from safe_polling.lease import FileLease, LeaseLost

from .conftest import SECRET, TOKEN, Holder, spec_for

WAIT = 15


async def test_holder_writes_its_record_and_clears_it_on_release(tmp_path: Path) -> None:
    path = tmp_path / "bot.lock"
    async with FileLease(path, bot_id=TOKEN) as lease:
        await lease.acquire()
        record = path.read_text()
        assert f'"pid": {os.getpid()}' in record
        assert SECRET not in record
        await lease.release()
        assert path.read_text() == ""


async def test_deleted_lock_file_counts_as_lost(tmp_path: Path) -> None:
    path = tmp_path / "bot.lock"
    async with FileLease(path, check_interval=0.1) as lease:
        await lease.acquire()
        path.unlink()
        with anyio.fail_after(WAIT):
            await lease.wait_lost()
        with pytest.raises(LeaseLost, match="deleted or replaced"):
            await lease.ensure_held()


async def test_replaced_lock_file_fails_the_fence(tmp_path: Path) -> None:
    path = tmp_path / "bot.lock"
    async with FileLease(path, check_interval=60) as lease, FileLease(path) as newcomer:
        await lease.acquire()
        path.unlink()
        # A newcomer creates a new file and locks it: two holders, only a fence can tell.
        assert await newcomer.try_acquire()
        with pytest.raises(LeaseLost):
            await lease.ensure_held()


async def test_stale_record_of_a_killed_holder_is_ignored(
    tmp_path: Path, holders: list[Holder]
) -> None:
    path = tmp_path / "bot.lock"
    child = Holder(spec_for("file", str(path)))
    holders.append(child)
    await child.wait_held()
    observer = FileLease(path)
    info = await observer.holder()
    assert info is not None
    assert info.pid == child.proc.pid
    child.kill()
    assert str(child.proc.pid) in path.read_text()  # the record stays behind...
    assert await observer.holder() is None  # ...but nobody holds the lock
    assert await observer.try_acquire()
    await observer.aclose()
