"""The README's offline demo (``bash scripts/demo.sh``), run the way that script runs it.

The demo is a program of its own: four processes (fake Telegram, fake KIE, two instances of
the real bot) talking over 127.0.0.1. These tests run it as a subprocess exactly like
``scripts/demo.sh`` does once the virtualenv exists, and read its transcript.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ["-B", "examples/demo.py"]  # the last line of scripts/demo.sh
# The demo bounds its own run (180 s at worst, ~12 s normally); these only stop a hung test.
RUN_TIMEOUT = 220

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def run_demo(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the demo with its own TMPDIR and a marker in its environment."""
    marker = uuid.uuid4().hex
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "DEMO_TEST_MARK": marker}
    result = subprocess.run(
        [sys.executable, *DEMO, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return result, marker


def leftover_processes(marker: str) -> list[str]:
    """Pids of processes that still carry *marker* in their environment (children inherit it)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"DEMO_TEST_MARK={marker}".encode() in environ.read_bytes():
                found.append(environ.parent.name)
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def assert_in_order(text: str, expected: Sequence[str]) -> None:
    """Each string of *expected* occurs in *text* after the previous one."""
    position = 0
    for item in expected:
        found = text.find(item, position)
        assert found >= 0, f"{item!r} not found after position {position} in:\n{text}"
        position = found + len(item)


def files_under(path: Path) -> set[Path]:
    return {p.relative_to(path) for p in path.rglob("*")}


STARTUP = [
    "✅ Preflight check passed: ready to start bot",
    "🗑️ Deleting webhook",
    "🔧 Initializing application...",
    "📡 Starting polling...",
    "✅ Polling started successfully!",
]


def test_demo_plays_the_conversation_and_hands_over_cleanly(tmp_path: Path) -> None:
    examples_before = files_under(ROOT / "examples")
    result, marker = run_demo(tmp_path)
    out = result.stdout

    assert result.returncode == 0, f"stdout:\n{out}\nstderr:\n{result.stderr}"
    # Bot #1 starts through run_polling: the library's five start-up lines, in order.
    assert_in_order(out, [f"bot #1 │ {line}" for line in STARTUP])
    # The conversation, after the start-up.
    assert_in_order(
        out,
        [
            "bot #1 │ ✅ Polling started successfully!",
            "👤 user: /start",
            "🤖 bot:  Hi, Alice!",
            "👤 user: presses [⭐ Top up]",
            "🤖 bot:  [invoice: '50 credits', 50 XTR]",
            "🤖 bot:  [answers the pre-checkout query: ok]",
            "🤖 bot:  ⭐ Payment received: +50 credits. Balance: 60.",
            "👤 user: presses [Nano Banana · 4 cr]",
            "👤 user: a watercolor fox in the snow",
            "👤 user: presses [✅ Generate for 4 credits]",
            "🤖 bot:  ⏳ Nano Banana: in the queue…",
            "🤖 bot:  [photo: ",
            "✅ Nano Banana: done.",
            "👤 user: /balance",
            "💰 Your balance: 56 credits.",
            "👤 user: /history",
            "Nano Banana · done · 4 cr",
        ],
    )
    # The second instance stands by, then takes over on SIGTERM to the first.
    standby = "bot #2 │ ⏳ Another instance holds the polling lease ("
    assert_in_order(
        out,
        [
            "👤 user: /history",
            standby,
            "bot #1 │ 🛑 Received SIGTERM: stopping",
            "bot #2 │ 👑 Acquired the polling lease",
            *(f"bot #2 │ {line}" for line in STARTUP[1:]),
            "👤 user: /balance",
            "💰 Your balance: 56 credits.",
            "bot #2 exited with code 0",
            "max concurrent getUpdates: 1 · 409 Conflict: 0",
            "✅ demo finished",
        ],
    )
    # The standby never polled before the handover: its start-up lines come only after it.
    assert out.index("bot #2 │ 📡 Starting polling...") > out.index("bot #1 │ 🛑 Received SIGTERM")
    assert_in_order(
        out, ["bot #1 │ 🛑 Received SIGTERM", "bot #1 exited with code 0", "The user writes again"]
    )
    calls = re.search(r"getUpdates calls: (\d+)", out)
    assert calls is not None
    assert int(calls.group(1)) > 0

    # No secret in the output: no token-shaped string, no 32-hex-digit key.
    assert not re.search(r"\d{6,}:[A-Za-z0-9_-]{30,}", out + result.stderr)
    assert not re.search(r"\b[0-9a-f]{32}\b", out + result.stderr)
    # Nothing left behind: no process, no temporary file, no file in the examples.
    assert leftover_processes(marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    assert files_under(ROOT / "examples") == examples_before


def test_demo_fails_clearly_and_cleans_up_when_a_step_times_out(tmp_path: Path) -> None:
    # 50 ms per step: no Python process can start the fake Telegram that fast.
    result, marker = run_demo(tmp_path, "--timeout", "0.05")

    assert result.returncode == 1
    assert "❌ demo failed: " in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert leftover_processes(marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def demo_queue_keys(redis_url: str) -> set[bytes]:
    """The two-worker demo's queue keys in Redis (its queue names start with ``demo-``)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return set(client.scan_iter(match="safe-polling:queue:*:demo-*"))
    finally:
        client.close()


@pytest.mark.redis
def test_two_worker_demo_shares_generations_and_hands_over(tmp_path: Path, redis_url: str) -> None:
    keys_before = demo_queue_keys(redis_url)
    result, marker = run_demo(tmp_path, "--workers", "2", "--redis", redis_url)
    out = result.stdout

    assert result.returncode == 0, f"stdout:\n{out}\nstderr:\n{result.stderr}"
    assert out.count("🧵 Scale-out: this replica handles updates from redis queue") == 2
    # One poller while both run (bot #2 polls after bot #1 stopped, if bot #1 was the one).
    before_sigterm = out.split("SIGTERM to bot #1", 1)[0]
    assert before_sigterm.count("✅ Polling started successfully! Updates go to redis queue") == 1
    runs = dict(re.findall(r"(bot #[12]) runs the generations of users ([\d, ]+)", out))
    assert set(runs) == {"bot #1", "bot #2"}  # both workers ran some generations
    users = sorted(int(u) for listed in runs.values() for u in listed.split(", "))
    assert len(users) == len(set(users)) == 9
    moved = re.search(
        r"bot #2 │ picked up (\d+) unfinished generation\(s\) no worker was running", out
    )
    assert moved is not None
    assert int(moved.group(1)) == len(runs["bot #1"].split(", "))
    assert_in_order(
        out,
        [
            "9 users ask for an image at the same moment",
            "bot #1 │ 🛑 Received SIGTERM: stopping",
            "bot #1 exited with code 0",
            "picked up",
            "Every user gets exactly one image",
        ],
    )
    for user in users:
        line = re.search(rf"🤖 → user {user}: \[photo\] ✅ done · delivered by (bot #\d)(.*)", out)
        assert line is not None, user
        assert line.group(1) == "bot #2"  # bot #1 stopped before any image was ready
        assert ("picked up" in line.group(2)) == (str(user) in runs["bot #1"])
    assert "max concurrent getUpdates: 1 · 409 Conflict: 0" in out
    assert "✅ demo finished" in out
    assert leftover_processes(marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    assert demo_queue_keys(redis_url) == keys_before


def test_two_worker_demo_without_redis_says_so_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    result, marker = run_demo(tmp_path, "--workers", "2", "--redis", url)

    assert result.returncode == 1
    assert "❌ demo failed: --workers 2 needs a Redis server for the update queue" in result.stdout
    assert "(redis-server), or pass --redis URL" in result.stdout
    assert "fake Telegram" not in result.stdout  # nothing started
    assert "Traceback" not in result.stdout + result.stderr
    assert leftover_processes(marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_quick_demo_runs_and_shows_the_guard() -> None:
    """examples/quick_demo.py: the minimal safe_start_polling example stays working."""
    result = subprocess.run(
        [sys.executable, "-B", str(ROOT / "examples" / "quick_demo.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "⚠️ Polling already started; skip second start" in output
    assert "🤖 bot:  You said: hello" in output
    assert "at most 1 at once, 0 × 409 Conflict" in output
