"""Run the fake Bot API in a separate process: the CLI entry and ``spawn_fake_bot_api``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence

from safe_polling.testing._client import FakeBotAPIClient
from safe_polling.testing._core import DEFAULT_USERNAME
from safe_polling.testing._server import FakeBotAPI

__all__ = [
    "READY_PREFIX",
    "main",
    "serve",
    "spawn_fake_bot_api",
]

READY_PREFIX = "FakeBotAPI listening on "


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m safe_polling.testing",
        description="Offline fake Telegram Bot API server with a JSON control API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="accept only this bot token")
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--conflict-delay", type=float, default=3.0)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="simulated round trip of every call (s)"
    )
    parser.add_argument(
        "--method-latency",
        action="append",
        default=[],
        type=_method_latency,
        metavar="METHOD=SECONDS",
        help="simulated round trip of one method, e.g. getUpdates=0.1 (repeatable)",
    )
    return parser


def _method_latency(text: str) -> tuple[str, float]:
    """``"getUpdates=0.1"`` -> ``("getUpdates", 0.1)``."""
    method, sep, seconds = text.partition("=")
    if not sep or not method:
        raise argparse.ArgumentTypeError(f"expected METHOD=SECONDS, got {text!r}")
    try:
        return method, float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected METHOD=SECONDS, got {text!r}") from None


async def serve(argv: Sequence[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, after printing one ready line on stdout.

    .. versionadded:: 0.1.0
    """
    args = _parser().parse_args(argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    api = FakeBotAPI(
        args.token,
        host=args.host,
        port=args.port,
        username=args.username,
        conflict_delay=args.conflict_delay,
        latency=args.latency,
        method_latency=dict(args.method_latency),
    )
    async with api:
        # The token is deliberately not printed: it is fetched through /_control/info.
        print(f"{READY_PREFIX}{api.base_url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m safe_polling.testing``."""
    asyncio.run(serve(argv))


@contextlib.asynccontextmanager
async def spawn_fake_bot_api(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    username: str = DEFAULT_USERNAME,
    conflict_delay: float = 3.0,
    ready_timeout: float = 20.0,
    latency: float = 0.0,
    method_latency: Mapping[str, float] | None = None,
) -> AsyncIterator[FakeBotAPIClient]:
    """Start ``python -m safe_polling.testing`` as a subprocess and yield a connected client.

    The process is terminated (then killed) on exit. With ``port=0`` the server picks a free
    port itself and reports it in its ready line, so there is no race for the port.
    ``latency`` and ``method_latency`` simulate a network round trip as in :class:`FakeBotAPI`.

    Example:
        .. code-block:: python

            async with spawn_fake_bot_api(conflict_delay=0.2) as fake:
                bot_process = start_bot(base_url=fake.base_url, token=fake.token)
                await fake.inject_message(42, "/start")
                await fake.wait_for_text(42, "Welcome", timeout=20)

    Raises:
        RuntimeError: The process exited or did not print its ready line in time.

    .. versionadded:: 0.1.0
    """
    command = [sys.executable, "-m", "safe_polling.testing", "--host", host, "--port", str(port)]
    command += ["--username", username, "--conflict-delay", str(conflict_delay)]
    command += ["--latency", str(latency)]
    for method, seconds in (method_latency or {}).items():
        command += ["--method-latency", f"{method}={seconds}"]
    if token is not None:
        command += ["--token", token]
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    try:
        base_url = await _ready(proc, ready_timeout)
        control = base_url.removesuffix("/bot") + "/_control"
        async with FakeBotAPIClient(control) as client:
            yield client
    finally:
        await _terminate(proc)


async def _ready(proc: asyncio.subprocess.Process, timeout: float) -> str:
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    except TimeoutError:
        raise RuntimeError(f"fake Bot API not ready within {timeout}s") from None
    text = line.decode().strip()
    if not text.startswith(READY_PREFIX):
        raise RuntimeError(f"fake Bot API failed to start (exit code {proc.returncode}): {text!r}")
    return text.removeprefix(READY_PREFIX)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
