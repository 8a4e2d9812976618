"""Stop, start and restart this machine's PostgreSQL 15 cluster ``main`` (dev server only).

The tests run serially, so taking the server down for a few seconds disturbs no one else;
:func:`kept_up` makes sure it is running again whatever the test does.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator

_CTL = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]


def _ctl(action: str) -> None:
    subprocess.run([*_CTL, action], check=True, timeout=60, capture_output=True)


def is_ready() -> bool:
    """Whether the server accepts connections (``pg_isready``)."""
    probe = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", "-t", "2"]
    return subprocess.run(probe, check=False, timeout=10).returncode == 0


def wait_ready(timeout: float = 30.0) -> None:
    """Wait until the server accepts connections; raise after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not is_ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"PostgreSQL not ready within {timeout:g}s")
        time.sleep(0.1)


def stop() -> None:
    """Stop the server (fast mode: sessions are terminated, locks freed)."""
    _ctl("stop")


def start() -> None:
    """Start the server and wait until it accepts connections."""
    if not is_ready():
        _ctl("start")
    wait_ready()


def restart() -> None:
    """Restart the server and wait until it accepts connections."""
    _ctl("restart")
    wait_ready()


@contextlib.contextmanager
def kept_up() -> Iterator[None]:
    """Run the block, then make sure the server is up again, even if the block failed."""
    try:
        yield
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            start()
        wait_ready()
