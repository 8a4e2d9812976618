"""What secret redaction costs per log line, as a ratio to the same logging without it.

Run: ``.venv/bin/python benchmarks/redaction_bench.py [--rounds 7] [--lines 20000]``
(no services; ~20 s).

One logger with one ``StreamHandler`` writing to memory, the standard formatter, and
three kinds of line: httpx's INFO line for a getUpdates call (a token in the URL),
httpx's line for a file download (the token with ``%3A``), and a plain line with no
secret. Configurations, in the same process, rounds interleaved so that machine noise
hits both alike (medians shown):

* ``plain``: logging as the standard library ships it (the record factory and
  ``Handler.format`` that were in place before ``import safe_polling``);
* ``redacted``: what ``import safe_polling`` and ``run_polling`` install: the record
  factory and the handler-output hook, with the bot token, a database URL and a KIE key
  registered.

This measures internals on purpose: it swaps ``logging``'s record factory and
``logging.Handler.format`` between the two configurations.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

ORIGINAL_FACTORY = logging.getLogRecordFactory()
ORIGINAL_FORMAT = logging.Handler.format

import safe_polling  # noqa: E402 - installs the hooks; the originals are saved above

REDACTED_FACTORY = logging.getLogRecordFactory()
REDACTED_FORMAT = logging.Handler.format

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
LINES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "getUpdates": (
        'HTTP Request: %s %s "%s %d %s"',
        ("POST", f"https://api.telegram.org/bot{TOKEN}/getUpdates", "HTTP/1.1", 200, "OK"),
    ),
    "download": (
        'HTTP Request: %s %s "%s %d %s"',
        (
            "GET",
            f"https://api.telegram.org/file/bot{TOKEN.replace(':', '%3A')}/photos/file_7.jpg",
            "HTTP/1.1",
            200,
            "OK",
        ),
    ),
    "plain": ("user %d paid %d credits for %s", (42, 30, "generation flux-pro")),
}


def configure(redacted: bool) -> None:
    if redacted:
        logging.setLogRecordFactory(REDACTED_FACTORY)
        logging.Handler.format = REDACTED_FORMAT  # type: ignore[method-assign]
    else:
        logging.setLogRecordFactory(ORIGINAL_FACTORY)
        logging.Handler.format = ORIGINAL_FORMAT  # type: ignore[method-assign]


def per_line_us(log: Callable[..., None], message: str, args: tuple[Any, ...], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        log(message, *args)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lines", type=int, default=20_000)
    options = parser.parse_args()

    safe_polling.install_redaction(TOKEN, "postgresql://bot:s3cret-Pw0rd@db:5432/app")
    safe_polling.install_redaction("kie-0123456789abcdef0123456789abcdef")
    logger = logging.getLogger("bench.redaction")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)

    times: dict[tuple[str, bool], list[float]] = {}
    for _ in range(options.rounds):
        for name, (message, args) in LINES.items():
            for redacted in (False, True):
                configure(redacted)
                stream.seek(0)
                stream.truncate()
                cost = per_line_us(logger.info, message, args, options.lines)
                times.setdefault((name, redacted), []).append(cost)
                leaked = TOKEN.split(":")[1] in stream.getvalue()
                assert leaked is not redacted or name == "plain", (name, redacted)
    configure(True)

    print(f"{options.rounds} rounds x {options.lines} lines; median microseconds per line")
    print(f"{'line':<12}{'plain':>10}{'redacted':>10}{'ratio':>8}")
    for name in LINES:
        plain = statistics.median(times[(name, False)])
        redacted = statistics.median(times[(name, True)])
        print(f"{name:<12}{plain:>10.1f}{redacted:>10.1f}{redacted / plain:>8.2f}")


if __name__ == "__main__":
    main()
