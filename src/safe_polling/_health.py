"""An optional HTTP health port, for hosts that insist on one.

A polling bot needs no inbound port, but a Render ``web`` service (the only
kind on the free plan) fails its deploy with "Port scan timeout reached" when
nothing listens on ``$PORT``, and Fly machines with checks want something to
probe. This is the smallest server that satisfies them: stdlib asyncio
streams, one JSON endpoint, ``Connection: close``, bounded reads. It binds at
once, before the preflight, because it needs nothing but a status object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from ._metrics import INSTALL_HINT, render_metrics
from ._redaction import redact
from ._status import PollingStatus

__all__ = ["HealthServer", "health_port_from_env"]

logger = logging.getLogger("safe_polling")

_ENV_VAR = "SAFE_POLLING_HEALTH_PORT"
_PATH = "/healthz"
_METRICS_PATH = "/metrics"
_MAX_LINE = 8192  # longer request or header lines get a 400
_MAX_HEADERS = 100
_MAX_BODY = 65536  # a small body is read and dropped so the client sees our answer
_LINGER = 1.0  # seconds to drain a client's leftover input before closing
# Beyond this many connections, the oldest one that has not sent its request yet is
# dropped for the newcomer (a real checker sends at once; 64 idle sockets used to lock
# the port out); only when all are busy answering is the newcomer closed at once.
_MAX_CLIENTS = 64
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class _BadRequest(Exception):
    pass


class HealthServer:
    """Serve ``GET /healthz`` with the bot's :class:`PollingStatus` as JSON.

    The answer is ``200`` while the instance is healthy and ``503`` when it
    is not, with a body such as::

        {"status": "ok", "role": "leader", "last_get_updates_age_s": 3.2,
         "leader_for_s": 812.4, "uptime_s": 815.0, "version": "0.1.0"}

    ======================================  ==========  ========
    situation                               status      HTTP
    ======================================  ==========  ========
    standby (another instance polls)        ``ok``      200
    worker (scale-out, another one polls)   ``ok``      200
    leader, last getUpdates < stale_after   ``ok``      200
    leader for less than stale_after        ``ok``      200
    leader, no getUpdates for stale_after   ``stalled`` 503
    starting (preflight, first start)       ``starting`` 503
    stopping                                ``stopping`` 503
    ======================================  ==========  ========

    ``starting`` answers 503 so that a host that waits for a healthy new
    instance before stopping the old one (Render's zero-downtime deploy) only
    switches once the preflight has passed; the port is open all the same, so
    Render's port scan succeeds at once. ``HEAD`` gives the same status line
    and headers without the body; other paths answer 404, other methods 405,
    malformed requests 400 and clients that send nothing for *read_timeout*
    seconds 408. Every connection is closed after one answer. The body holds
    no secret: only the role, ages in seconds and the version.

    ``GET /metrics`` on the same port answers the Prometheus text of
    :func:`safe_polling.metrics_registry` (501 naming the ``metrics`` extra
    when ``prometheus_client`` is not installed).

    Args:
        status: The live status to report (the one :func:`run_polling` keeps).
        port: The TCP port; ``0`` picks a free one (see :attr:`port`).
        host: The address to bind (``0.0.0.0``: every interface, as hosts need).
        stale_after: Seconds without a successful getUpdates after which a
            leader counts as stalled.
        read_timeout: Seconds a client has to send its request.

    Example:
        .. code-block:: python

            status = PollingStatus(version="1.0")
            async with HealthServer(status, port=int(os.environ["PORT"])):
                ...  # run the bot, updating status.role

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        status: PollingStatus,
        *,
        port: int,
        host: str = "0.0.0.0",
        stale_after: float = 90.0,
        read_timeout: float = 5.0,
    ) -> None:
        self.status = status
        self.host = host
        self.stale_after = stale_after
        self.read_timeout = read_timeout
        self._requested_port = port
        self._server: asyncio.Server | None = None
        # Open connections and the tasks serving them, to close them on stop; those
        # still waiting for their request, oldest first, to make room when full.
        self._clients: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}
        self._waiting: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``).

        Raises:
            RuntimeError: If the server is not started.
        """
        if self._server is None or not self._server.sockets:
            raise RuntimeError("HealthServer is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind the port and start answering; returns once the port is open.

        Raises:
            OSError: If the port cannot be bound (in use, no permission).
            RuntimeError: If the server is already started.
        """
        if self._server is not None:
            raise RuntimeError("HealthServer is already started")
        self._server = await asyncio.start_server(
            self._serve, self.host, self._requested_port, limit=_MAX_LINE
        )
        logger.info("🩺 Health endpoint listening on %s:%d%s", self.host, self.port, _PATH)

    async def stop(self) -> None:
        """Stop listening and close open connections. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        clients = dict(self._clients)
        for writer in clients:
            writer.close()
        if clients:
            await asyncio.wait(clients.values(), timeout=5)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await server.wait_closed()

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """The HTTP status code and JSON body ``GET /healthz`` would answer now."""
        status, now = self.status, time.monotonic()
        age = status.get_updates_age()
        leader_for = None
        if status.role == "leader" and status.leader_since is not None:
            leader_for = now - status.leader_since
        verdict = _verdict(status.role, age, leader_for, self.stale_after)
        body: dict[str, Any] = {
            "status": verdict,
            "role": status.role,
            "last_get_updates_age_s": _round(age),
            "leader_for_s": _round(leader_for),
            "uptime_s": _round(now - status.started_at),
            "version": status.version,
        }
        if status.queue is not None:  # scale-out: backlog, partitions owned, handled here
            body["queue"] = dict(status.queue)
        return (200 if verdict == "ok" else 503), body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._clients) >= _MAX_CLIENTS and not self._drop_oldest_waiting():
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._clients[writer] = task
        self._waiting[writer] = task
        try:
            code, body, headers = await self._answer(reader)
            self._waiting.pop(writer, None)
            await self._write(writer, code, body, headers)
            await _linger(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled while we wrote: nothing to tell it
        except Exception:  # one bad connection must never take the server down
            logger.debug("Health endpoint: unexpected error", exc_info=True)
        finally:
            self._clients.pop(writer, None)
            self._waiting.pop(writer, None)
            writer.close()

    def _drop_oldest_waiting(self) -> bool:
        """Close the oldest connection still waiting for its request; False if none is."""
        for writer, task in self._waiting.items():
            del self._waiting[writer]
            self._clients.pop(writer, None)
            writer.close()
            task.cancel()
            return True
        return False

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes, dict[str, str]]:
        try:
            async with asyncio.timeout(self.read_timeout):
                method, path, _ = await _read_request(reader)
        except TimeoutError:
            return 408, b"", {}
        except _BadRequest:
            return 400, b"", {}
        if path not in (_PATH, _METRICS_PATH):
            return 404, b"", {}
        if method not in ("GET", "HEAD"):
            return 405, b"", {"Allow": "GET, HEAD"}
        code, payload, content_type = self._metrics() if path == _METRICS_PATH else self._health()
        headers = {"Content-Type": content_type, "Cache-Control": "no-store"}
        if method == "HEAD":
            headers["Content-Length"] = str(len(payload))
            return code, b"", headers
        return code, payload, headers

    def _health(self) -> tuple[int, bytes, str]:
        code, body = self.snapshot()
        return code, json.dumps(body).encode() + b"\n", "application/json"

    def _metrics(self) -> tuple[int, bytes, str]:
        """``GET /metrics``: Prometheus text, or 501 naming the extra to install."""
        rendered = render_metrics()
        if rendered is None:
            return 501, INSTALL_HINT.encode() + b"\n", "text/plain; charset=utf-8"
        return 200, *rendered

    async def _write(
        self, writer: asyncio.StreamWriter, code: int, body: bytes, headers: dict[str, str]
    ) -> None:
        headers.setdefault("Content-Length", str(len(body)))
        headers["Connection"] = "close"
        head = f"HTTP/1.1 {code} {_REASONS[code]}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(head.encode("ascii") + b"\r\n" + body)
        # A client that does not read cannot hold the handler forever.
        async with asyncio.timeout(self.read_timeout):
            await writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    """Read the request line and headers (and drop a small body)."""
    parts = (await _read_line(reader)).split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/") or not parts[0].isalpha():
        raise _BadRequest
    method, target, _ = parts
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS):
        line = await _read_line(reader)
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest
        headers[name.strip().lower()] = value.strip()
    else:
        raise _BadRequest
    await _drop_body(reader, headers)
    return method, target.split("?", 1)[0], headers


async def _read_line(reader: asyncio.StreamReader) -> str:
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise _BadRequest from None
    except asyncio.IncompleteReadError:
        raise _BadRequest from None  # the client closed mid-request
    try:
        return raw.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _BadRequest from None


async def _drop_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> None:
    # Closing a socket with unread data makes the kernel send RST, and the
    # client may then see "connection reset" instead of our 405.
    length = headers.get("content-length", "0")
    if length.isdigit() and 0 < int(length) <= _MAX_BODY:
        await reader.readexactly(int(length))


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then drain what the client still sends, briefly, before closing.

    Closing with unread input (a junk or oversized request) makes the kernel
    send RST, which can destroy our answer in the client's receive buffer.
    """
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(_LINGER):
            for _ in range(16):
                if not await reader.read(_MAX_LINE):
                    return


def _verdict(role: str, age: float | None, leader_for: float | None, stale_after: float) -> str:
    if role in ("standby", "worker"):
        return "ok"
    if role != "leader":
        return role  # "starting" or "stopping"
    if age is not None and age < stale_after:
        return "ok"
    if leader_for is not None and leader_for < stale_after:
        return "ok"
    return "stalled"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def health_port_from_env(env: Mapping[str, str] = os.environ) -> int | None:
    """Read the health port from ``SAFE_POLLING_HEALTH_PORT``.

    The value is a port number (``8080``), or ``PORT``/``1``/``true`` to use
    the port in ``$PORT`` (which Render sets for web services); unset, empty,
    ``0`` or ``false`` means no health port. Note that ``1`` means "use
    ``$PORT``", not port 1.

    Args:
        env: The environment to read.

    Returns:
        The port to bind, or :obj:`None` when there is no health port.

    Raises:
        ValueError: If the value, or ``$PORT`` when asked for, is not a valid
            port number (1-65535).

    Example:
        .. code-block:: python

            port = health_port_from_env()
            if port is not None:
                server = HealthServer(status, port=port)
                await server.start()

    .. versionadded:: 0.1.0
    """
    raw = env.get(_ENV_VAR, "").strip()
    if raw.lower() in ("", "0", "false", "no", "off"):
        return None
    if raw.lower() in ("port", "1", "true", "yes", "on"):
        if not env.get("PORT", "").strip():
            raise ValueError(f"{_ENV_VAR}={raw} asks for $PORT, but PORT is not set")
        return _parse_port(env["PORT"].strip(), "PORT")
    return _parse_port(raw, _ENV_VAR)


def _parse_port(raw: str, name: str) -> int:
    # isascii: "²".isdigit() is true, but int("²") raises.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5) or not 1 <= int(raw) <= 65535:
        raise ValueError(
            f"{name} must be a port number from 1 to 65535"
            + (" (or PORT/1/true to use $PORT)" if name == _ENV_VAR else "")
            + f"; got {redact(raw)[:40]!r}"  # a URL pasted here may hold a password
        )
    return int(raw)
