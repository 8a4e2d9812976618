"""``parse_mode`` handling: HTML to text plus entities, like the real server.

Bots that build HTML from user input break in production with ``can't parse entities``; the
fake reproduces that for HTML. Markdown and MarkdownV2 texts are kept as sent (not parsed).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from safe_polling.testing._objects import utf16_len
from safe_polling.testing._params import ApiError, bad_request

_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self.stack: list[tuple[str, dict[str, Any]]] = []
        self.error: str | None = None

    def handle_data(self, data: str) -> None:
        self.text += data

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        entity: dict[str, Any]
        if tag in _SIMPLE:
            entity = {"type": _SIMPLE[tag]}
            if tag == "blockquote" and "expandable" in values:
                entity["type"] = "expandable_blockquote"
        elif tag == "span" and values.get("class") == "tg-spoiler":
            entity = {"type": "spoiler"}
        elif tag == "a":
            entity = {"type": "text_link", "url": values.get("href", "")}
        elif tag == "tg-emoji":
            entity = {"type": "custom_emoji", "custom_emoji_id": values.get("emoji-id", "")}
        else:
            self._fail(f'Unsupported start tag "{tag}"')
            return
        entity["offset"] = utf16_len(self.text)
        self.stack.append((tag, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            self._fail(f'Unmatched end tag "{tag}"')
            return
        _, entity = self.stack.pop()
        entity["length"] = utf16_len(self.text) - entity["offset"]
        if entity["length"] > 0:
            self.entities.append(entity)

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message


def parse(text: str, parse_mode: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Return the plain text and entities of ``text`` in ``parse_mode``.

    Raises:
        ApiError: 400 ``can't parse entities: ...`` for bad HTML or an unknown parse mode.
    """
    mode = parse_mode.lower()
    if not mode:
        return text, None
    if mode in {"markdown", "markdownv2"}:
        return text, None
    if mode != "html":
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    parser = _Parser()
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"'
    if parser.error is not None:
        raise ApiError(400, f"Bad Request: can't parse entities: {parser.error}")
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return parser.text, entities or None
