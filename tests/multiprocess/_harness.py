"""Bot instances as real subprocesses, their logs and event records, and bounded waits.

Shared by the multi-process tests and ``benchmarks/handover_bench.py``. Every wait here is
bounded; every process started here is killed on the way out, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

INSTANCE = Path(__file__).with_name("_instance.py")

LEADER = "👑 Acquired the polling lease"
STANDBY = "⏳ Another instance holds the polling lease"
POLLING = "✅ Polling started successfully!"
LOST = "🛑 Lost the polling lease"
FENCED = "🛑 Polling lease not confirmed"


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll *predicate* every 20 ms until it holds; fail with *what* after *timeout* s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.02)


def lease_env(
    kind: str, *, pg_dsn: str = "", redis_url: str = "", lock_file: Path | None = None
) -> dict[str, str]:
    """The ``SAFE_POLLING_*`` variables selecting *kind*, with a lease name of its own."""
    env = {"SAFE_POLLING_LEASE": kind, "SAFE_POLLING_LEASE_NAME": f"mp-{uuid.uuid4().hex[:10]}"}
    if kind == "postgres":
        env["DATABASE_URL"] = pg_dsn
    elif kind in ("redis", "k8s"):
        env["SAFE_POLLING_REDIS_URL"] = redis_url
    elif kind == "file":
        assert lock_file is not None
        env["SAFE_POLLING_LEASE_FILE"] = str(lock_file)
    return env


class Instance:
    """One ``_instance.py`` subprocess; its output goes to a file (no pipe to fill up)."""

    def __init__(self, name: str, workdir: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.events_path = workdir / f"{name}.events.jsonl"
        environment = {**os.environ, **env, "MP_EVENTS": str(self.events_path)}
        environment.pop("SAFE_POLLING_WATCHDOG", None)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(INSTANCE)], env=environment, stdout=out, stderr=out
            )
        self.pid = self.proc.pid

    def __repr__(self) -> str:
        return f"<Instance {self.name} pid={self.pid} rc={self.proc.poll()}>"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def has(self, marker: str) -> bool:
        return marker in self.log()

    def count(self, marker: str) -> int:
        return self.log().count(marker)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        try:
            lines = self.events_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            with contextlib.suppress(ValueError):  # a line being written right now
                item = json.loads(line)
                if kind is None or item["kind"] == kind:
                    found.append(item)
        return found

    def get_updates(self) -> list[dict[str, Any]]:
        """The getUpdates requests that really went out (past the fence), in order."""
        return [e for e in self.events("http") if e["method"] == "getUpdates"]

    def log_time(self, marker: str, after: float = 0.0) -> float | None:
        """Time of the first ``safe_polling`` log line containing *marker* (after *after*)."""
        for item in self.events("log"):
            if marker in item["msg"] and item["t"] >= after:
                return float(item["t"])
        return None

    async def wait_for(self, marker: str, timeout: float = 20.0, count: int = 1) -> None:
        await wait_until(
            lambda: self.count(marker) >= count or not self.alive,
            timeout,
            f"{marker!r} from {self.name}",
        )
        if self.count(marker) < count:
            raise AssertionError(f"{self.name} exited before {marker!r}:\n{self.log()}")

    async def wait_polls(self, n: int, timeout: float = 20.0, after: float = 0.0) -> None:
        """Wait until *n* long polls of this instance (started after *after*) completed."""

        def done() -> bool:
            return sum(1 for e in self.get_updates() if e["t0"] >= after and e["code"]) >= n

        await wait_until(done, timeout, f"{n} getUpdates from {self.name}")

    def signal(self, sig: int) -> None:
        if self.alive:
            self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float = 20.0) -> int:
        await wait_until(lambda: not self.alive, timeout, f"{self.name} to exit")
        code = self.proc.returncode
        assert code is not None
        return code

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


class Fleet:
    """Instances of one bot (one token, one lease) started side by side."""

    def __init__(self, workdir: Path, base_url: str, token: str, env: Mapping[str, str]):
        self.workdir = workdir
        self.env = {"MP_TOKEN": token, "MP_BASE_URL": base_url, "PYTHONUNBUFFERED": "1", **env}
        self.instances: list[Instance] = []

    def start(self, count: int = 1, **extra: str) -> list[Instance]:
        new = [
            Instance(f"i{len(self.instances) + n}", self.workdir, {**self.env, **extra})
            for n in range(count)
        ]
        self.instances.extend(new)
        return new

    @property
    def alive(self) -> list[Instance]:
        return [i for i in self.instances if i.alive]

    def with_marker(self, marker: str, among: list[Instance] | None = None) -> list[Instance]:
        return [i for i in (self.instances if among is None else among) if i.has(marker)]

    async def wait_roles(self, among: list[Instance], timeout: float = 30.0) -> Instance:
        """Wait until each of *among* is leader or standby; return the only leader."""
        await wait_until(
            lambda: all(i.has(LEADER) or i.has(STANDBY) or not i.alive for i in among),
            timeout,
            "every instance to lead or stand by",
        )
        leaders = self.with_marker(LEADER, among)
        assert len(leaders) == 1, self.report()
        assert all(i.has(STANDBY) for i in among if i not in leaders), self.report()
        return leaders[0]

    async def stop_all(self, timeout: float = 20.0) -> dict[str, int]:
        """SIGTERM every live instance, wait for all; return the exit codes by name."""
        for instance in self.alive:
            instance.signal(signal.SIGTERM)
        codes = {}
        for instance in self.instances:
            codes[instance.name] = await instance.wait_exit(timeout)
        return codes

    def kill_all(self) -> None:
        for instance in self.instances:
            instance.kill()

    def handled(self) -> Counter[int]:
        """How many times each update id was handled, over all instances."""
        return Counter(e["update_id"] for i in self.instances for e in i.events("handled"))

    def report(self) -> str:
        """Every instance's output, for assertion messages (no token is ever logged)."""
        return "\n".join(f"--- {i!r}\n{i.log()}" for i in self.instances)


@contextlib.asynccontextmanager
async def fleet(
    workdir: Path, base_url: str, token: str, env: Mapping[str, str]
) -> AsyncIterator[Fleet]:
    """A :class:`Fleet` whose processes are all killed on exit, even on failure."""
    group = Fleet(workdir, base_url, token, env)
    try:
        yield group
    finally:
        group.kill_all()
