"""A TCP proxy on the loopback in front of the real Redis, for outage tests.

The queue under test talks to the real server through it, and the test breaks the
link the ways a network does: :meth:`RedisProxy.freeze` (the server stops answering,
connections stay open), :meth:`RedisProxy.hold` (it answers late: replies wait for
:meth:`RedisProxy.release`), :meth:`RedisProxy.cut` (every connection reset at once),
:meth:`RedisProxy.go_down` (connections reset and refused until :meth:`restore`), and
:meth:`RedisProxy.lose_reply_with` (the reply carrying some bytes never arrives, as when
a connection dies after the server answered), :meth:`RedisProxy.cut_request_before` (the
connection dies in the middle of a pipeline: the server gets its first commands only).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


class _Link:
    """One client connection and its upstream connection to Redis."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client, self.server = client, server
        self.stalled = False  # a reply was lost on it: nothing more goes through

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


class RedisProxy:
    """Forwards 127.0.0.1:<port> to the Redis server of *target* until told otherwise."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = target
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 6379
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._held: set[asyncio.StreamWriter] = set()  # accepted while frozen
        self._tasks: set[asyncio.Task[None]] = set()
        self._frozen = False
        self._down = False
        self._lose: bytes | None = None
        self._cut_before: tuple[bytes, int] | None = None
        self._holding = False
        self.held: list[tuple[asyncio.StreamWriter, bytes]] = []  # replies held back, in order
        self.accepted = 0  # connections the proxy accepted (each one a connection attempt)
        self.swallowed = 0  # requests and replies lost to the freeze

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    def url(self, **query: object) -> str:
        """The target's URL with the proxy's address, and *query* options for redis-py."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        parts = urlsplit(self._target)
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@" if "@" in parts.netloc else ""
        options = "&".join(f"{key}={value}" for key, value in query.items())
        return urlunsplit((parts.scheme, f"{netloc}127.0.0.1:{port}", parts.path, options, ""))

    def freeze(self) -> None:
        """The server stops answering: open connections stay open, new ones are accepted."""
        self._frozen = True

    def hold(self) -> None:
        """Hold every reply back until :meth:`release`: a server that answers late."""
        self._holding = True

    def release(self) -> None:
        """Deliver the replies held back, in order, and forward again."""
        self._holding = False
        for sink, data in self.held:
            sink.write(data)
        self.held.clear()

    def cut(self) -> None:
        """Reset every open connection; new ones go through as before."""
        for link in list(self._links):
            link.abort()
        for writer in list(self._held):
            writer.transport.abort()
        self._links.clear()
        self._held.clear()

    def go_down(self) -> None:
        """Reset every open connection and every new one until :meth:`restore`."""
        self._down = True
        self.cut()

    def lose_reply_with(self, marker: bytes) -> None:
        """Lose the first reply that carries *marker*, and stall its connection."""
        self._lose = marker

    def cut_request_before(self, command: bytes, occurrence: int = 1) -> None:
        """Cut the next request that sends *command* (its *occurrence*-th) just before it.

        The server gets the commands before it and then the end of the connection; the
        client sees its connection fail.
        """
        self._cut_before = (command, occurrence)

    def restore(self) -> None:
        self._frozen = self._down = False
        self._lose = None

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._down:
            writer.transport.abort()
            return
        if self._frozen:  # accepted, never answered
            self._held.add(writer)
            self._hold(reader)
            return
        up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        link = _Link(writer, up_writer)
        self._links.add(link)
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer, link, reply=False)),
            asyncio.create_task(self._pipe(up_reader, writer, link, reply=True)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _hold(self, reader: asyncio.StreamReader) -> None:
        async def swallow() -> None:
            while await reader.read(65536):
                self.swallowed += 1

        task = asyncio.create_task(swallow())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link, *, reply: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if self._frozen:
                    self.swallowed += 1
                    continue
                if reply and self._lose is not None and self._lose in data:
                    self._lose = None
                    link.stalled = True
                if link.stalled:
                    continue
                if not reply and self._cut_before is not None:
                    at = _command_at(data, *self._cut_before)
                    if at >= 0:
                        self._cut_before = None
                        sink.write(data[:at])
                        await sink.drain()
                        sink.close()  # the server reads what came first, then the end
                        link.client.transport.abort()
                        link.stalled = True
                        continue
                if reply and self._holding:
                    self.held.append((sink, data))
                    continue
                sink.write(data)
                await sink.drain()
        sink.transport.abort()


def _command_at(data: bytes, command: bytes, occurrence: int) -> int:
    """Where the *occurrence*-th *command* of a RESP request starts in *data*, or -1."""
    name = b"$%d\r\n%s\r\n" % (len(command), command)
    at = -1
    for _ in range(occurrence):
        at = data.find(name, at + 1)
        if at < 0:
            return -1
    return data.rfind(b"*", 0, at)
