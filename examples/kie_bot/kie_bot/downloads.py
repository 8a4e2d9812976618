"""Result downloads that cannot be turned against the bot's own network (SSRF).

A finished KIE task names the URLs of its results and the bot downloads them to upload
the files to Telegram. Whoever controls that answer (a compromised or spoofed KIE, a
model that echoes a prompt) could otherwise make the bot fetch ``http://127.0.0.1:...``,
a cloud metadata address or a host on the private network, and send the answer to the
user. So a URL is fetched only when:

- it is ``https`` (plain ``http`` only for a trusted origin: the offline fakes);
- its host resolves only to public addresses (not loopback, private, link-local,
  reserved...), unless its origin is trusted;
- the connection goes to the very address that was checked (the request is pinned to
  it, with the original name for the ``Host`` header and TLS), so a DNS answer that
  changes between the check and the connect cannot slip through;
- every redirect passes the same checks (at most :attr:`DownloadPolicy.max_redirects`);
- the body stays under the size cap and the whole download under the time cap.

Anything else raises :class:`DownloadRefused`; the caller sends the link instead.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["DownloadPolicy", "DownloadRefused", "TooLarge", "download", "origin_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

Resolver = Callable[[str, int], Awaitable[list[str]]]


class DownloadRefused(Exception):
    """The URL may not be fetched (scheme, address, redirects); send the link instead.

    .. versionadded:: 0.1.0
    """


class TooLarge(DownloadRefused):
    """The body is larger than :attr:`DownloadPolicy.max_bytes`.

    .. versionadded:: 0.1.0
    """


@dataclass(frozen=True, slots=True)
class DownloadPolicy:
    """What a result download may do.

    Attributes:
        max_bytes (:obj:`int`): Largest body read; larger results are sent as a link.
        timeout (:obj:`float`): Seconds for the whole download, redirects included.
        trusted_origins (frozenset[:obj:`str`]): ``scheme://host:port`` origins fetched
            even over http or from a private address (see :func:`origin_of`).
        max_redirects (:obj:`int`): Redirects followed, each one checked again.

    .. versionadded:: 0.1.0
    """

    max_bytes: int
    timeout: float = 120.0
    trusted_origins: frozenset[str] = frozenset()
    max_redirects: int = 5


def origin_of(url: str) -> str:
    """Return ``scheme://host:port`` of *url*, lower-case, with the default port filled in.

    Raises:
        ValueError: *url* has no scheme or host, or a bad port.

    Example:
        >>> origin_of("HTTP://LocalHost/media/x.png")
        'http://localhost:80'

    .. versionadded:: 0.1.0
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not parts.scheme or not host:
        raise ValueError("not an absolute URL")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}:{port}"


async def download(
    http: httpx.AsyncClient, url: str, policy: DownloadPolicy, *, resolve: Resolver | None = None
) -> bytes:
    """Fetch *url* under *policy* and return the body.

    Args:
        http: A client that does not follow redirects itself.
        url: The result URL KIE returned.
        policy: The limits.
        resolve: Host name to addresses (tests pass their own); the system resolver by
            default.

    Returns:
        :obj:`bytes`: The body.

    Raises:
        DownloadRefused: Not allowed (:class:`TooLarge` when over the size cap).
        TimeoutError: Over the time cap.
        httpx.HTTPError: The server failed or answered an error status.

    .. versionadded:: 0.1.0
    """
    async with asyncio.timeout(policy.timeout):
        for _ in range(policy.max_redirects + 1):
            request = await _checked_request(http, url, policy, resolve or _resolve)
            response = await http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise DownloadRefused("a redirect without a location")
                    url = urljoin(url, location)
                    continue
                response.raise_for_status()
                return await _read_capped(response, policy.max_bytes)
            finally:
                await response.aclose()
    raise DownloadRefused(f"more than {policy.max_redirects} redirects")


async def _checked_request(
    http: httpx.AsyncClient, url: str, policy: DownloadPolicy, resolve: Resolver
) -> httpx.Request:
    """The GET for *url*, pinned to a checked public address, or refused."""
    try:
        origin = origin_of(url)
        parts = urlsplit(url)
        target = httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise DownloadRefused("a malformed URL") from None
    if origin in policy.trusted_origins:
        return http.build_request("GET", target)
    if parts.scheme.lower() != "https":
        raise DownloadRefused("not https")
    host = parts.hostname or ""
    try:
        addresses = await resolve(host, parts.port or 443)
    except OSError:
        raise DownloadRefused("the host does not resolve") from None
    if not addresses or not all(_is_public(a) for a in addresses):
        raise DownloadRefused("not a public address")
    pinned = target.copy_with(host=addresses[0])
    return http.build_request(
        "GET",
        pinned,
        headers={"Host": target.netloc.decode("ascii")},
        # TLS is checked against the name, while the socket goes to the checked address.
        extensions={"sni_hostname": host},
    )


def _is_public(address: str) -> bool:
    """Whether *address* is a globally routable unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever is_global says
    return ip.is_global and not ip.is_multicast


async def _resolve(host: str, port: int) -> list[str]:
    """Every address *host* resolves to (a literal address resolves to itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, or :class:`TooLarge` as soon as it (or its declared length) passes the cap."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"{declared} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
