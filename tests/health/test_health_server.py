"""HealthServer: a real httpx client against the real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from safe_polling._health import _MAX_CLIENTS, HealthServer
from safe_polling._status import PollingStatus, Role

STALE_AFTER = 90.0


@pytest.fixture
def status() -> PollingStatus:
    return PollingStatus(version="9.8.7")


@pytest.fixture
async def server(status: PollingStatus) -> AsyncIterator[HealthServer]:
    async with HealthServer(
        status, port=0, host="127.0.0.1", stale_after=STALE_AFTER, read_timeout=0.5
    ) as running:
        yield running


@pytest.fixture
async def client(server: HealthServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5.0) as http:
        yield http


async def raw_exchange(port: int, request: bytes) -> bytes:
    """Send *request* as is on a fresh connection and read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()


@pytest.mark.parametrize("role", ["standby", "worker"])
async def test_standby_or_worker_is_healthy(
    status: PollingStatus, client: httpx.AsyncClient, role: Role
) -> None:
    status.set_role(role)
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["connection"] == "close"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["role"] == role
    assert body["last_get_updates_age_s"] is None
    assert body["leader_for_s"] is None
    assert body["version"] == "9.8.7"
    assert body["uptime_s"] >= 0


async def test_leader_with_recent_get_updates_is_healthy(
    status: PollingStatus, client: httpx.AsyncClient
) -> None:
    status.set_role("leader")
    status.leader_since = time.monotonic() - 3 * STALE_AFTER
    status.mark_get_updates_ok()
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["role"] == "leader"
    assert 0 <= body["last_get_updates_age_s"] < STALE_AFTER
    assert body["leader_for_s"] >= 3 * STALE_AFTER


async def test_new_leader_without_get_updates_yet_is_healthy(
    status: PollingStatus, client: httpx.AsyncClient
) -> None:
    status.set_role("leader")
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["last_get_updates_age_s"] is None


async def test_leader_with_stale_get_updates_is_stalled(
    status: PollingStatus, client: httpx.AsyncClient
) -> None:
    status.set_role("leader")
    now = time.monotonic()
    status.leader_since = now - 3 * STALE_AFTER
    status.last_get_updates_ok = now - 2 * STALE_AFTER
    response = await client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "stalled"
    assert body["last_get_updates_age_s"] >= 2 * STALE_AFTER


async def test_leader_that_never_got_updates_is_stalled(
    status: PollingStatus, client: httpx.AsyncClient
) -> None:
    status.set_role("leader")
    status.leader_since = time.monotonic() - 2 * STALE_AFTER
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "stalled"


async def test_stopping_is_unavailable(status: PollingStatus, client: httpx.AsyncClient) -> None:
    status.set_role("leader")
    status.mark_get_updates_ok()
    status.set_role("stopping")
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "stopping"
    assert response.json()["role"] == "stopping"


async def test_starting_is_not_ready_yet(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "starting",
        "role": "starting",
        "last_get_updates_age_s": None,
        "leader_for_s": None,
        "uptime_s": response.json()["uptime_s"],
        "version": "9.8.7",
    }


async def test_head_has_headers_but_no_body(
    status: PollingStatus, server: HealthServer, client: httpx.AsyncClient
) -> None:
    status.set_role("standby")
    response = await client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""
    raw = await raw_exchange(server.port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: " in head
    assert body == b""


async def test_query_string_is_ignored(status: PollingStatus, client: httpx.AsyncClient) -> None:
    status.set_role("standby")
    assert (await client.get("/healthz?probe=render")).status_code == 200


@pytest.mark.parametrize("path", ["/", "/health", "/healthz/", "/metrics/"])
async def test_other_paths_are_not_found(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_other_methods_are_not_allowed(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/healthz", content=b'{"x": 1}')
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "junk",
    [
        b"garbage\r\n\r\n",
        b"GET /healthz\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS hello
        b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
    ],
)
async def test_junk_gets_400_and_the_server_keeps_serving(
    status: PollingStatus, server: HealthServer, client: httpx.AsyncClient, junk: bytes
) -> None:
    raw = await raw_exchange(server.port, junk)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    status.set_role("standby")
    assert (await client.get("/healthz")).status_code == 200


async def test_client_that_disconnects_mid_request_does_not_hurt(
    status: PollingStatus, server: HealthServer, client: httpx.AsyncClient
) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /hea")
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    status.set_role("standby")
    assert (await client.get("/healthz")).status_code == 200


async def test_slow_client_does_not_block_others_and_times_out(
    status: PollingStatus, server: HealthServer, client: httpx.AsyncClient
) -> None:
    status.set_role("standby")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\n")  # ...and never the blank line
        await writer.drain()
        # While the slow client holds its connection, others are served.
        assert (await client.get("/healthz")).status_code == 200
        async with asyncio.timeout(5):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    finally:
        writer.close()


async def test_stop_closes_idle_connections_and_the_port(status: PollingStatus) -> None:
    server = HealthServer(status, port=0, host="127.0.0.1", read_timeout=30)
    await server.start()
    port = server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    async with asyncio.timeout(5):
        await server.stop()
        assert await reader.read() == b""
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    await server.stop()  # idempotent


async def test_start_twice_is_refused(server: HealthServer) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        await server.start()


async def test_port_in_use_raises_at_start(status: PollingStatus, server: HealthServer) -> None:
    with pytest.raises(OSError, match="in use"):
        await HealthServer(status, port=server.port, host="127.0.0.1").start()


async def test_body_holds_only_the_documented_keys(
    status: PollingStatus, client: httpx.AsyncClient
) -> None:
    status.set_role("leader")
    response = await client.get("/healthz")
    assert set(response.json()) == {
        "status",
        "role",
        "last_get_updates_age_s",
        "leader_for_s",
        "uptime_s",
        "version",
    }


async def test_idle_connections_cannot_lock_out_health_checks(status: PollingStatus) -> None:
    """64 sockets that never send a request used to make the port refuse every check."""
    status.set_role("standby")
    async with HealthServer(status, port=0, host="127.0.0.1", read_timeout=30) as server:
        idle = [
            await asyncio.open_connection("127.0.0.1", server.port)
            for _ in range(2 * _MAX_CLIENTS)
        ]
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                for _ in range(3):
                    answer = await http.get(f"http://127.0.0.1:{server.port}/healthz")
                    assert answer.status_code == 200
            # The oldest idle connections made room: the server closed them.
            async with asyncio.timeout(5):
                assert await idle[0][0].read() == b""
        finally:
            for _, writer in idle:
                writer.close()
