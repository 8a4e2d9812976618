"""Bot processes with a health port, and ``GET /metrics`` read from them as samples."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from safe_polling.testing import FakeBotAPI

BOT = Path(__file__).with_name("_metrics_bot.py")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bot:
    """One ``_metrics_bot.py`` subprocess with its health port; output kept for failures.

    By default it shares a file lease in *workdir* and runs at-most-once; *env* adds
    to or replaces those settings (a queue, a database).
    """

    def __init__(self, api: FakeBotAPI, workdir: Path, name: str, **env: str) -> None:
        self.port = free_port()
        self.log = workdir / f"{name}.log"
        settings = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "SAFE_POLLING_LEASE": "file",
            "SAFE_POLLING_LEASE_FILE": str(workdir / "poll.lock"),
            "SAFE_POLLING_HEALTH_PORT": str(self.port),
            "SAFE_POLLING_WATCHDOG": "200",  # milliseconds
            "SAFE_POLLING_DELIVERY": "at-most-once",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        with open(self.log, "wb") as out:
            command = [sys.executable, str(BOT)]
            self.proc = subprocess.Popen(command, env=settings, stdout=out, stderr=out)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def scrape(self) -> tuple[str, Samples]:
        """The /metrics text and its samples keyed by (name, labels)."""
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{self.port}/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=")
        samples = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        }
        return response.text, samples

    async def wait_metric(
        self, check: Callable[[Samples], bool], what: str, timeout: float = 20.0
    ) -> Samples:
        """Scrape until *check* holds (bounded); return those samples."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, samples = await self.scrape()
                if check(samples):
                    return samples
            except httpx.TransportError:
                samples = {}
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {samples}\n{self.output()}")
            await asyncio.sleep(0.05)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def role(samples: Samples, name: str) -> bool:
    return value(samples, "safe_polling_role", role=name) == 1


@pytest.fixture
def bots() -> Iterator[list[Bot]]:
    """Bots the test starts; any still running at the end is killed."""
    started: list[Bot] = []
    yield started
    for bot in started:
        if bot.proc.poll() is None:
            bot.proc.kill()
        bot.proc.wait(10)
