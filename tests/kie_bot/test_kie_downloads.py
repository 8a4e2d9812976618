"""Result downloads: https to public addresses only, pinned, redirects checked, capped.

Public hosts cannot be run here, so names resolve through a table and the requests reach
an ``httpx.MockTransport`` that records them: what is checked is which address the bot
would connect to, with which ``Host`` and TLS name, and what it refuses before connecting.
The end-to-end refusals on real sockets are in test_kie_bot_flow.py.
"""

from __future__ import annotations

import httpx
import pytest

from kie_bot.downloads import (
    DownloadPolicy,
    DownloadRefused,
    TooLarge,
    download,
    origin_of,
)

PUBLIC = "93.184.216.34"
NAMES = {
    "cdn.example": [PUBLIC],
    "v6.example": ["2606:2800:220:1:248:1893:25c8:1946"],
    "mixed.example": [PUBLIC, "10.1.2.3"],  # one private answer is enough to refuse
    "internal.example": ["10.0.0.5"],
    "meta.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:127.0.0.1"],
}


async def resolve(host: str, port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    if host.replace(".", "").isdigit() or ":" in host:
        return [host]
    raise OSError("no such host")


class Recorder:
    """The wire: records each request and answers from a table of paths."""

    def __init__(self, answers: dict[str, httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.get(request.url.path, httpx.Response(404))


def client(wire: Recorder) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(wire), follow_redirects=False)


POLICY = DownloadPolicy(max_bytes=100, timeout=5)


async def test_public_https_is_fetched_from_the_checked_address_with_its_name() -> None:
    wire = Recorder({"/a.png": httpx.Response(200, content=b"png")})
    async with client(wire) as http:
        assert await download(http, "https://cdn.example/a.png", POLICY, resolve=resolve) == b"png"
        assert await download(http, "https://v6.example:8443/a.png", POLICY, resolve=resolve)
    first, second = wire.requests
    assert (first.url.host, first.headers["host"]) == (PUBLIC, "cdn.example")
    assert first.extensions["sni_hostname"] == "cdn.example"
    assert second.url.host == NAMES["v6.example"][0]
    assert second.headers["host"] == "v6.example:8443"


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example/a.png",  # not https
        "https://internal.example/a.png",
        "https://mixed.example/a.png",
        "https://meta.example/latest/meta-data",
        "https://mapped.example/a.png",
        "https://127.0.0.1/a.png",
        "https://[::1]/a.png",
        "https://0.0.0.0/a.png",
        "https://192.168.1.1/a.png",
        "https://nowhere.example/a.png",
        "http://[::1",
        "ftp://cdn.example/a.png",
        "file:///etc/passwd",
        "https://cdn.example:99999/a.png",
    ],
)
async def test_refused_before_any_connection(url: str) -> None:
    wire = Recorder({})
    async with client(wire) as http:
        with pytest.raises(DownloadRefused):
            await download(http, url, POLICY, resolve=resolve)
    assert wire.requests == []


async def test_every_redirect_is_checked_again() -> None:
    wire = Recorder(
        {
            "/to-internal": httpx.Response(
                302, headers={"location": "https://internal.example/x"}
            ),
            "/to-http": httpx.Response(301, headers={"location": "http://cdn.example/ok"}),
            "/relative": httpx.Response(307, headers={"location": "/ok"}),
            "/loop": httpx.Response(302, headers={"location": "/loop"}),
            "/ok": httpx.Response(200, content=b"fine"),
        }
    )
    async with client(wire) as http:
        for path in ("/to-internal", "/to-http", "/loop"):
            with pytest.raises(DownloadRefused):
                await download(http, f"https://cdn.example{path}", POLICY, resolve=resolve)
        assert await download(http, "https://cdn.example/relative", POLICY, resolve=resolve) == (
            b"fine"
        )
    assert {r.url.host for r in wire.requests} == {PUBLIC}
    assert len([r for r in wire.requests if r.url.path == "/loop"]) == POLICY.max_redirects + 1


async def test_size_is_capped_declared_or_streamed() -> None:
    wire = Recorder(
        {
            "/declared": httpx.Response(200, headers={"content-length": "101"}, content=b""),
            "/streamed": httpx.Response(200, content=b"x" * 101),
            "/exact": httpx.Response(200, content=b"x" * 100),
        }
    )
    async with client(wire) as http:
        for path in ("/declared", "/streamed"):
            with pytest.raises(TooLarge):
                await download(http, f"https://cdn.example{path}", POLICY, resolve=resolve)
        body = await download(http, "https://cdn.example/exact", POLICY, resolve=resolve)
    assert len(body) == 100


async def test_trusted_origin_may_be_http_on_loopback_and_nothing_else_is() -> None:
    wire = Recorder({"/media/a.png": httpx.Response(200, content=b"fake")})
    policy = DownloadPolicy(max_bytes=100, trusted_origins=frozenset({"http://127.0.0.1:8080"}))
    async with client(wire) as http:
        got = await download(http, "http://127.0.0.1:8080/media/a.png", policy, resolve=resolve)
        assert got == b"fake"
        for other in ("http://127.0.0.1:8081/media/a.png", "https://127.0.0.1:8080/media/a.png"):
            with pytest.raises(DownloadRefused):
                await download(http, other, policy, resolve=resolve)
    assert len(wire.requests) == 1


def test_origin_is_normalised() -> None:
    assert origin_of("HTTPS://CDN.Example/x") == "https://cdn.example:443"
    assert origin_of("http://[::1]:9/x") == "http://[::1]:9"
    with pytest.raises(ValueError, match="absolute"):
        origin_of("/relative/path")
