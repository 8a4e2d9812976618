"""A holder whose host vanishes (no FIN): the server must free its lock via keepalives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import anyio
import pytest

from safe_polling.lease import LeaseLost, PostgresLease

from . import _vanish
from .conftest import HOLD_LEASE, TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.mark.destructive
async def test_server_frees_the_lock_of_a_vanished_host() -> None:
    reason = _vanish.unavailable()
    if reason:
        pytest.skip(reason)
    name = f"vanish-{uuid.uuid4().hex[:8]}"
    with _vanish.netns() as ns, _vanish.private_postgres() as server:
        dsn = server.dsn
        # Library defaults: keepalive 5 s idle, 2 s x 3 probes, tcp_user_timeout 10 s.
        spec = {"kind": "postgres", "target": dsn, "bot_id": TOKEN, "name": name}
        child = subprocess.Popen(
            [*ns.exec_prefix(), sys.executable, HOLD_LEASE, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            with anyio.fail_after(30):
                line = await anyio.to_thread.run_sync(child.stdout.readline)
            assert line.strip() == "held", child.stderr.read() if child.stderr else ""
            async with PostgresLease(dsn, bot_id=TOKEN, name=name) as standby:
                info = await standby.holder()
                assert info is not None
                assert info.pid == child.pid
                assert f"client={_vanish.NS_ADDR}" in info.backend_id
                async with anyio.create_task_group() as tg:
                    tg.start_soon(standby.acquire)
                    await anyio.sleep(0.5)
                    assert not standby.held
                    ns.cut()
                    cut_at = time.monotonic()
                    # Generous functional bound; without keepalives this would take hours.
                    with anyio.fail_after(30):
                        while not standby.held:
                            await anyio.sleep(0.05)
                print(f"vanished holder's lock freed after {time.monotonic() - cut_at:.1f}s")
                await standby.ensure_held()
        finally:
            child.kill()
            child.communicate(timeout=10)


async def test_database_restart_fires_lost_and_the_lease_recovers() -> None:
    if _vanish.pg_bin("initdb") is None or os.geteuid() != 0:
        pytest.skip("needs root and the PostgreSQL server binaries for a private server")
    with _vanish.private_postgres("127.0.0.1", 55433) as server:
        async with PostgresLease(server.dsn, bot_id=TOKEN, check_interval=60) as lease:
            await lease.acquire()
            await anyio.to_thread.run_sync(server.restart)
            with anyio.fail_after(15):
                await lease.wait_lost()
            with pytest.raises(LeaseLost, match="connection closed"):
                await lease.ensure_held()
            with anyio.fail_after(15):
                await lease.acquire()
            await lease.ensure_held()
