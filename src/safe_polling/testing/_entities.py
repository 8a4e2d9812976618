"""What the parse-mode parsers share: the output text with its UTF-16 length, open entities,
URL checks, and the ``can't parse entities`` error.

Offsets in entities are UTF-16 code units (the Bot API's unit); offsets in error messages are
UTF-8 bytes of the input, as telegram-bot-api reports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from safe_polling.testing._params import ApiError

__all__ = ["Builder", "Open", "cant_parse", "normalize_url"]

_URL = re.compile(r"^(?:([A-Za-z][A-Za-z0-9+.-]*):(?://)?)?([^/?#]*)(.*)$", re.DOTALL)
_MENTION = re.compile(r"^tg:(?://)?user\?id=([1-9][0-9]{0,15})$", re.IGNORECASE)


# Order of entities covering the same span (tdlib's type priorities): quotes outermost.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}


def cant_parse(detail: str) -> ApiError:
    """``400 Bad Request: can't parse entities: {detail}``."""
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


@dataclass
class Open:
    """An entity whose end has not been seen yet."""

    kind: str  # tdlib's name, used in errors: Bold, Italic, Code, PreCode, TextUrl...
    byte: int  # UTF-8 byte offset of its start in the input
    start: int  # UTF-16 offset in the output
    extra: dict[str, Any] = field(default_factory=dict)


def normalize_url(raw: str) -> dict[str, Any] | None:
    """The entity fields for a link target, or None when Telegram would not make it a link.

    ``tg://user?id=N`` mentions a user; other targets need a host with a dot (``http://`` is
    assumed when no scheme is given) and get a ``/`` path, as Telegram normalizes them.
    """
    if not raw or any(c.isspace() for c in raw):
        return None
    mention = _MENTION.match(raw)
    if mention:
        user = {"id": int(mention.group(1)), "is_bot": False, "first_name": ""}
        return {"type": "text_mention", "user": user}
    match = _URL.match(raw)
    if not raw or match is None:
        return None
    scheme, host, rest = (match.group(1) or "http").lower(), match.group(2), match.group(3)
    if scheme in {"http", "https", "ftp"} and "." not in host.strip("."):
        return None
    if scheme not in {"http", "https", "ftp", "tg", "ton"}:
        return None
    if not rest.startswith("/"):
        rest = "/" + rest
    separator = "://" if scheme != "tg" or "://" in raw else ":"
    return {"type": "text_link", "url": f"{scheme}{separator}{host}{rest}"}


class Builder:
    """The plain text being produced and the finished entities."""

    def __init__(self, source: str) -> None:
        self.parts: list[str] = []
        self.length = 0  # UTF-16 code units so far
        self.entities: list[dict[str, Any]] = []
        # UTF-8 byte offset of every character index of the input (plus the end).
        offsets = [0]
        for char in source:
            offsets.append(offsets[-1] + len(char.encode("utf-8", "surrogatepass")))
        self.byte_at = offsets

    def emit(self, text: str) -> None:
        """Append plain text."""
        self.parts.append(text)
        self.length += len(text.encode("utf-16-le", "surrogatepass")) // 2

    def close(self, entity: dict[str, Any], start: int) -> None:
        """Finish an entity that started at UTF-16 offset ``start`` (empty ones vanish)."""
        if self.length > start:
            entity.update(offset=start, length=self.length - start)
            self.entities.append(entity)

    def since(self, start: int) -> str:
        """The output text from UTF-16 offset ``start`` on."""
        encoded = "".join(self.parts).encode("utf-16-le", "surrogatepass")
        return encoded[start * 2 :].decode("utf-16-le", "surrogatepass")

    def result(self) -> tuple[str, list[dict[str, Any]] | None]:
        """The text and its entities ordered like Telegram's (by offset, longest first)."""
        ordered = sorted(
            self.entities,
            key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)),
        )
        for entity in ordered:
            # Keys starting with "_" are the parsers' notes, not entity fields.
            for key in [k for k in entity if k.startswith("_")]:
                del entity[key]
        return "".join(self.parts), ordered or None
