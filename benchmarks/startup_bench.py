"""Start-up: spawn -> first getUpdates, bare PTB ``run_polling()`` vs ``safe_polling.run_polling``.

The same echo bot is spawned as a real subprocess against an in-process ``FakeBotAPI`` that
answers every call after a simulated network round trip (``--latency``, default 0 ms and
60 ms, a bot hosted 60 ms away from Telegram). Configurations, interleaved trial by trial so
that the load of a shared machine falls on all of them alike:

* ``bare PTB``: ``application.run_polling(timeout=1)``, PTB's own start (the baseline);
* ``safe-polling, no db``: ``safe_polling.run_polling(application, timeout=1)`` with the
  defaults (preflight, file lease, at-most-once delivery);
* ``safe-polling, SQLite``: the same with ``DATABASE_URL=sqlite:///...`` (at-least-once
  delivery records in SQLite).

The working directory holds the repository's ``render.yaml``, as a deploy's checkout does.
Each trial uses a fresh bot token, so the fake's own records (arrival time of each call,
server side) tell the calls of one trial apart. Reported: the median time from spawn to the
first getUpdates per configuration, its ratio to bare PTB, and the phase table (median time
from spawn to the first call of each method, and how many calls of each came first).

    .venv/bin/python benchmarks/startup_bench.py                 # ~3 min: 12 trials, 0 and 60 ms
    .venv/bin/python benchmarks/startup_bench.py --trials 4      # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from safe_polling.testing import Call, FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent

BOT = """
import os, sys
from telegram.ext import ApplicationBuilder, MessageHandler, filters

async def echo(update, context):
    await update.effective_message.reply_text(update.effective_message.text)

application = (
    ApplicationBuilder()
    .token(os.environ["TELEGRAM_BOT_TOKEN"])
    .base_url(os.environ["TELEGRAM_BASE_URL"])
    .build()
)
application.add_handler(MessageHandler(filters.TEXT, echo))
if sys.argv[1] == "bare":
    application.run_polling(timeout=1)
else:
    from safe_polling import run_polling

    run_polling(application, timeout=1)
"""

# name -> (argv[1] of the bot, extra environment)
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "bare PTB": ("bare", {}),
    "safe-polling, no db": ("safe", {}),
    "safe-polling, SQLite": ("safe", {"DATABASE_URL": "sqlite:///{workdir}/bot.sqlite3"}),
}
METHODS = ("getMe", "getWebhookInfo", "deleteWebhook", "getUpdates")


async def trial(
    api: FakeBotAPI, script: Path, workdir: Path, mode: str, extra: dict[str, str]
) -> list[tuple[str, float]]:
    """Spawn one bot; return (method, seconds after spawn) of its calls up to the first poll."""
    token = api.make_token()
    # PYTHONDONTWRITEBYTECODE would make every start compile safe_polling from source (an
    # editable install has no bytecode yet), ~30 ms a pip install never pays: pip compiles
    # the package at install, as it did PTB's. The warm-up trial writes the cache.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SAFE_POLLING_", "DATABASE")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env |= {
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_BASE_URL": api.base_url,
        "SAFE_POLLING_LEASE_FILE": str(workdir / "lease.lock"),
    }
    env |= {k: v.format(workdir=workdir) for k, v in extra.items()}
    started = time.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        mode,
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )

    def mine() -> list[Call]:
        return [c for c in api.calls if c.token == token]

    try:
        async with asyncio.timeout(60):
            while not any(c.method == "getUpdates" for c in mine()):
                if proc.returncode is not None:
                    raise RuntimeError(f"{mode} bot exited with {proc.returncode}")
                await asyncio.sleep(0.002)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    calls = []
    for call in mine():
        calls.append((call.method, call.time - started))
        if call.method == "getUpdates":
            break
    return calls


def report(latency: float, results: dict[str, list[list[tuple[str, float]]]]) -> None:
    """The spawn -> first getUpdates table with ratios, then the phase table."""
    first_poll = {name: [t[-1][1] for t in trials] for name, trials in results.items()}
    base = statistics.median(first_poll["bare PTB"])
    print(f"\nRound trip {latency * 1000:.0f} ms, {len(first_poll['bare PTB'])} trials each")
    print("| configuration | spawn -> first getUpdates (median) | ratio to bare PTB |")
    print("|---|---|---|")
    for name, values in first_poll.items():
        median = statistics.median(values)
        print(f"| {name} | {median * 1000:.0f} ms | {median / base:.2f}x |")
    print(
        "\nPhases: median ms from spawn to the first call of each method (calls before the poll)"
    )
    print("| configuration | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for name, trials in results.items():
        cells = []
        for method in METHODS:
            times = [next((t for m, t in calls if m == method), None) for calls in trials]
            seen = [t for t in times if t is not None]
            counts = Counter(m for m, _ in trials[0])
            cells.append(
                f"{statistics.median(seen) * 1000:.0f} ({counts[method]})" if seen else "- (0)"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")


async def main(trials: int, latencies: list[float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        script = workdir / "bot.py"
        script.write_text(BOT, encoding="utf-8")
        shutil.copy(ROOT / "render.yaml", workdir / "render.yaml")
        for latency in latencies:
            async with FakeBotAPI(latency=latency) as api:
                for mode, extra in CONFIGS.values():  # warm-up: imports, SQLite schema
                    await trial(api, script, workdir, mode, extra)
                results: dict[str, list[list[tuple[str, float]]]] = {n: [] for n in CONFIGS}
                for _ in range(trials):
                    for name, (mode, extra) in CONFIGS.items():
                        results[name].append(await trial(api, script, workdir, mode, extra))
            report(latency, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument(
        "--latency", type=float, nargs="+", default=[0.0, 0.06], help="round trips (s)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.trials, args.latency))
