"""Bot instances as real subprocesses, restarted by a supervisor when they die.

Every process started here is SIGKILLed on the way out (``Fleet.kill_all``), whatever
happens; output goes to one log file per process (no pipe that could fill up).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from multiprocess._harness import LEADER, LOST, wait_until

BOT = Path(__file__).parents[1] / "delivery" / "_bot.py"

SKIPPED = "re-delivered update(s) already handled"


class Instance:
    """One bot process (``tests/delivery/_bot.py`` unless another *bot* script is given)."""

    def __init__(self, name: str, workdir: Path, env: Mapping[str, str], bot: Path = BOT) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(bot)], env={**os.environ, **env}, stdout=out, stderr=out
            )
        #: The signal the test sent (None: any exit is unexpected).
        self.sent: signal.Signals | None = None

    def __repr__(self) -> str:
        return f"<{self.name} pid={self.proc.pid} rc={self.proc.poll()} sent={self.sent}>"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def leading(self) -> bool:
        """Alive, not told to stop, and holding the lease according to its log."""
        text = self.log()
        return self.alive and self.sent is None and text.count(LEADER) > text.count(LOST)

    def send(self, sig: signal.Signals) -> None:
        self.sent = sig
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


@dataclass(frozen=True)
class Exit:
    """How one instance ended."""

    name: str
    returncode: int
    sent: signal.Signals | None

    @property
    def expected(self) -> bool:
        if self.sent is signal.SIGKILL:
            return self.returncode == -signal.SIGKILL
        return self.sent is signal.SIGTERM and self.returncode == 0


class Fleet:
    """*size* slots, each always running one instance while the supervisor runs."""

    def __init__(self, workdir: Path, env: Mapping[str, str], size: int, bot: Path = BOT) -> None:
        self.workdir = workdir
        self.bot = bot
        self.env = {"PYTHONUNBUFFERED": "1", **env}
        self.slots: list[Instance] = []
        self.everyone: list[Instance] = []
        self.exits: list[Exit] = []
        for slot in range(size):
            self.slots.append(self._spawn(slot))

    def _spawn(self, slot: int) -> Instance:
        instance = Instance(f"s{slot}-r{len(self.everyone)}", self.workdir, self.env, self.bot)
        self.everyone.append(instance)
        return instance

    async def supervise(self) -> None:
        """Restart every instance that exits, until cancelled."""
        while True:
            for slot, instance in enumerate(self.slots):
                code = instance.proc.poll()
                if code is not None:
                    self.exits.append(Exit(instance.name, code, instance.sent))
                    self.slots[slot] = self._spawn(slot)
            await asyncio.sleep(0.05)

    def leaders(self) -> list[Instance]:
        return [i for i in self.slots if i.leading]

    async def leader(self, timeout: float = 30.0) -> Instance:
        await wait_until(lambda: bool(self.leaders()), timeout, "a leader")
        (only,) = self.leaders()  # two at once would be a broken lease
        return only

    async def stop_all(self, timeout: float = 30.0) -> None:
        """SIGTERM every instance (supervisor stopped first) and wait for them all."""
        for instance in self.slots:
            if instance.alive:
                instance.send(signal.SIGTERM)
        await wait_until(lambda: not any(i.alive for i in self.slots), timeout, "all to exit")
        for instance in self.slots:
            code = instance.proc.poll()
            assert code is not None
            self.exits.append(Exit(instance.name, code, instance.sent))

    def kill_all(self) -> None:
        for instance in self.everyone:
            instance.kill()

    def count_in_logs(self, marker: str) -> int:
        return sum(i.log().count(marker) for i in self.everyone)

    def skipped(self) -> int:
        """Re-delivered updates the dedupe skipped, summed from all logs."""
        total = 0
        for instance in self.everyone:
            for line in instance.log().splitlines():
                if SKIPPED in line:
                    total += int(line.split("Skipped ", 1)[1].split()[0])
        return total

    def report(self, tail: int = 15) -> str:
        parts = [f"exits: {self.exits}"]
        for instance in self.everyone:
            lines = instance.log().splitlines()[-tail:]
            parts.append(f"--- {instance!r}\n" + "\n".join(lines))
        return "\n".join(parts)
