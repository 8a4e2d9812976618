"""Time from process start to the health port accepting connections vs to polling.

A bot run with ``SAFE_POLLING_HEALTH_PORT`` is spawned as a real subprocess against an
in-process fake Bot API (``FakeBotAPI``) on 127.0.0.1, with the default preflight, a file
lease and SQLite delivery records, as ``run_polling`` does in production. For each trial:

* ``port``: from ``create_subprocess_exec`` to the first TCP connect to the health port
  that succeeds (probed every 2 ms);
* ``polling``: from the same instant to the ``Polling started successfully`` log line.

Then SIGTERM, and the next trial. Medians over the trials (after one warm-up) are printed
as a Markdown table; the ratio port/polling shows how early in the start the port opens.

    .venv/bin/python benchmarks/startup_port_bench.py --trials 15
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from safe_polling.testing import FakeBotAPI

BOT = """
import os
from telegram.ext import ApplicationBuilder
from safe_polling import run_polling

application = (
    ApplicationBuilder()
    .token(os.environ["TELEGRAM_BOT_TOKEN"])
    .base_url(os.environ["TELEGRAM_BASE_URL"])
    .build()
)
run_polling(application, timeout=1)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_port(port: int, started: float) -> float:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.002)
            continue
        elapsed = time.perf_counter() - started
        writer.close()
        await writer.wait_closed()
        return elapsed


async def wait_line(proc: asyncio.subprocess.Process, needle: str, started: float) -> float:
    assert proc.stdout is not None
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise RuntimeError(f"bot exited before {needle!r}")
        if needle in line:
            return time.perf_counter() - started


async def trial(api: FakeBotAPI, script: Path, workdir: Path) -> tuple[float, float]:
    port = free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.make_token(),
        "TELEGRAM_BASE_URL": api.base_url,
        "SAFE_POLLING_HEALTH_PORT": str(port),
        "DATABASE_URL": f"sqlite:///{workdir / 'bot.sqlite3'}",
        "SAFE_POLLING_LEASE_FILE": str(workdir / "lease.lock"),
        "PYTHONUNBUFFERED": "1",
    }
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(60):
            port_s, polling_s = await asyncio.gather(
                wait_port(port, started), wait_line(proc, "Polling started successfully", started)
            )
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return port_s, polling_s


async def main(trials: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        script = workdir / "bot.py"
        script.write_text(BOT, encoding="utf-8")
        async with FakeBotAPI() as api:
            await trial(api, script, workdir)  # warm-up: imports, SQLite schema
            results = [await trial(api, script, workdir) for _ in range(trials)]
    port = statistics.median(r[0] for r in results) * 1000
    polling = statistics.median(r[1] for r in results) * 1000
    print(f"trials: {trials}")
    print("| from process start to                  | median ms |")
    print("|----------------------------------------|----------:|")
    print(f"| health port accepts connections        | {port:9.1f} |")
    print(f"| `Polling started successfully` logged  | {polling:9.1f} |")
    print(f"\nport / polling = {port / polling:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15)
    asyncio.run(main(parser.parse_args().trials))
