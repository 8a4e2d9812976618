"""A throwaway PostgreSQL server and a network namespace whose link we can cut.

Used to check that the server frees a lease whose holder's host vanished without closing
its socket. The server must be private: its TCP peer has to be the holder itself (a
userspace forwarder in between would keep answering the server's keepalives), and the
shared server only listens on 127.0.0.1.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# A private /30 for the test host's own veth pair: the traffic never leaves this machine.
HOST_ADDR = "10.250.77.1"
NS_ADDR = "10.250.77.2"
PG_PORT = 55432


def pg_bin(tool: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}")) or [shutil.which(tool) or ""]
    return found[-1] or None


def unavailable() -> str | None:
    """Why the vanished-host setup cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root for ip netns"
    if shutil.which("ip") is None or shutil.which("runuser") is None:
        return "needs iproute2 and runuser"
    if pg_bin("initdb") is None or pg_bin("pg_ctl") is None:
        return "needs the PostgreSQL server binaries"
    probe = f"sp-probe-{uuid.uuid4().hex[:6]}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "ip netns is not available"
    subprocess.run(["ip", "netns", "del", probe], check=True)
    return None


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


@dataclass
class Netns:
    name: str
    inner_if: str

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def cut(self) -> None:
        """Take the namespace's link down: no FIN, no RST, packets just vanish."""
        _run(*self.exec_prefix(), "ip", "link", "set", self.inner_if, "down")


@contextmanager
def netns() -> Iterator[Netns]:
    tag = uuid.uuid4().hex[:6]
    name, outer, inner = f"sp-lease-{tag}", f"spl{tag}h", f"spl{tag}n"
    try:
        _run("ip", "netns", "add", name)
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        _run("ip", "link", "set", inner, "netns", name)
        _run("ip", "addr", "add", f"{HOST_ADDR}/30", "dev", outer)
        _run("ip", "link", "set", outer, "up")
        _run("ip", "netns", "exec", name, "ip", "addr", "add", f"{NS_ADDR}/30", "dev", inner)
        _run("ip", "netns", "exec", name, "ip", "link", "set", inner, "up")
        _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield Netns(name, inner)
    finally:
        subprocess.run(["ip", "link", "del", outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@dataclass
class PrivatePostgres:
    dsn: str
    data: str

    def restart(self) -> None:
        """Restart the server: every session ends, as after a database failover."""
        pg_ctl = str(pg_bin("pg_ctl"))
        log = os.path.join(os.path.dirname(self.data), "log")
        # -l: the new postmaster must not inherit our pipes, or run() waits for it to exit.
        _run(
            "runuser",
            "-u",
            "postgres",
            "--",
            pg_ctl,
            "-D",
            self.data,
            "-l",
            log,
            "-m",
            "fast",
            "-w",
            "restart",
        )


@contextmanager
def private_postgres(address: str = HOST_ADDR, port: int = PG_PORT) -> Iterator[PrivatePostgres]:
    """Start a throwaway cluster listening on ``address``; yield it."""
    base = tempfile.mkdtemp(prefix="sp-lease-pg-")
    data = os.path.join(base, "data")
    shutil.chown(base, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    pg_ctl = str(pg_bin("pg_ctl"))
    try:
        _run(
            *as_postgres,
            str(pg_bin("initdb")),
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
        with open(os.path.join(data, "pg_hba.conf"), "a") as hba:
            hba.write(f"host all all {HOST_ADDR.rsplit('.', 1)[0]}.0/30 trust\n")
        options = f"-c listen_addresses={address} -p {port} -c unix_socket_directories={base}"
        _run(*as_postgres, pg_ctl, "-D", data, "-o", options, "-l", f"{base}/log", "-w", "start")
        yield PrivatePostgres(f"postgresql://postgres@{address}:{port}/postgres", data)
    finally:
        subprocess.run(
            [*as_postgres, pg_ctl, "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=30,
        )
        shutil.rmtree(base, ignore_errors=True)
