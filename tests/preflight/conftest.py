"""Local endpoints for the preflight tests: a closed port, a server that never answers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# Shaped like a real token; never sent anywhere but 127.0.0.1.
TOKEN = "123456789:AAHfake-secret_value0123456789abcdefg"
PASSWORD = "hunter2-Secret-pw"


def assert_no_secrets(text: str, *secrets: str) -> None:
    """The token's secret part and every given secret are absent from ``text``."""
    for secret in (TOKEN, TOKEN.partition(":")[2], PASSWORD, *secrets):
        assert secret not in text


@pytest.fixture
def dead_base_url() -> str:
    """A Bot API base URL on a local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/bot"


@pytest.fixture
def dead_port() -> int:
    """A closed local TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A port that completes the TCP handshake (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


class _HtmlHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html>not a bot api</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def html_base_url() -> Iterator[str]:
    """A web server that answers every request with HTML, not a Bot API envelope."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bot"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
