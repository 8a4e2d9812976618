"""``parse_mode`` HTML, and the dispatch to the Markdown parsers.

HTML is read the way Telegram reads it: the supported tags (``b strong i em u ins s strike del
span class="tg-spoiler" tg-spoiler a tg-emoji code pre blockquote [expandable]``), only the
``&lt; &gt; &amp; &quot;`` and numeric character references (anything else after ``&`` stays
literal), ``</>`` closing the innermost tag, and ``<pre><code class="language-x">`` making one
pre block with a language. Errors carry tdlib's text and UTF-8 byte offset, checked against its
test cases: ``Unsupported start tag "blink" at byte offset 0``, ``Unclosed start tag at byte
offset N``, ``Unmatched end tag at byte offset N, expected "</i>", found "</em>"``, ``Can't find
end tag corresponding to start tag "b"``.
"""

from __future__ import annotations

import re
from typing import Any

from safe_polling.testing._entities import Builder, Open, cant_parse, normalize_url
from safe_polling.testing._markdown import parse_markdown, parse_markdown_v2
from safe_polling.testing._params import bad_request

__all__ = ["parse"]

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
}
_SUPPORTED = frozenset(_SIMPLE) | {"a", "span", "tg-emoji", "blockquote"}
_NAME = re.compile(r"[A-Za-z0-9-]*")
_REFERENCE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));?")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _reference(s: str, i: int) -> tuple[str, int]:
    """The character an ``&`` reference at ``i`` stands for and its length (``&`` if none)."""
    match = _REFERENCE.match(s, i)
    if match is None:
        return "&", 1
    if match.group(1):
        return _NAMED[match.group(1)], match.end() - i
    code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
    if code > 0x10FFFF or code == 0:
        return "&", 1
    if 0xD800 <= code <= 0xDFFF:
        raise cant_parse(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return chr(code), match.end() - i


def _decode(value: str) -> str:
    parts: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            char, size = _reference(value, i)
            parts.append(char)
            i += size
        else:
            parts.append(value[i])
            i += 1
    return "".join(parts)


class _Html:
    def __init__(self, s: str) -> None:
        self.s = s
        self.out = Builder(s)
        self.stack: list[tuple[str, Open]] = []

    def byte(self, i: int) -> int:
        return self.out.byte_at[i]

    def parse(self) -> tuple[str, list[dict[str, Any]] | None]:
        s, i = self.s, 0
        while i < len(s):
            if s[i] == "&":
                char, size = _reference(s, i)
                self.out.emit(char)
                i += size
            elif s[i] == "<":
                i = self.end_tag(i) if s.startswith("</", i) else self.start_tag(i)
            else:
                j = i
                while j < len(s) and s[j] not in "&<":
                    j += 1
                self.out.emit(s[i:j])
                i = j
        if self.stack:
            tag = self.stack[-1][0]
            raise cant_parse(f'Can\'t find end tag corresponding to start tag "{tag}"')
        return self.out.result()

    def attributes(self, tag: str, begin: int, j: int) -> tuple[dict[str, str], int]:
        s = self.s
        attrs: dict[str, str] = {}
        while True:
            while j < len(s) and s[j].isspace():
                j += 1
            if j >= len(s):
                raise cant_parse(f'Unclosed start tag "{tag}" at byte offset {self.byte(begin)}')
            if s[j] == ">":
                return attrs, j + 1
            name = _NAME.match(s, j)
            assert name is not None
            if not name.group():
                raise cant_parse(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self.byte(begin)}'
                )
            j = name.end()
            while j < len(s) and s[j].isspace():
                j += 1
            if j >= len(s):
                raise cant_parse(f'Unclosed start tag "{tag}" at byte offset {self.byte(begin)}')
            if s[j] != "=":
                attrs[name.group().lower()] = ""
                continue
            j += 1
            while j < len(s) and s[j].isspace():
                j += 1
            if j >= len(s):
                raise cant_parse(f'Unclosed start tag "{tag}" at byte offset {self.byte(begin)}')
            if s[j] in "\"'":
                close = s.find(s[j], j + 1)
                if close < 0:
                    raise cant_parse(f"Unclosed start tag at byte offset {self.byte(begin)}")
                value, j = s[j + 1 : close], close + 1
            else:
                start = j
                while j < len(s) and not s[j].isspace() and s[j] != ">":
                    j += 1
                if j >= len(s):
                    raise cant_parse(
                        f"Unexpected end of name token at byte offset {self.byte(start)}"
                    )
                value = s[start:j]
            attrs[name.group().lower()] = _decode(value)

    def start_tag(self, begin: int) -> int:
        name = _NAME.match(self.s, begin + 1)
        assert name is not None
        tag, j = name.group().lower(), name.end()
        if j >= len(self.s) or not tag:
            raise cant_parse(f"Unclosed start tag at byte offset {self.byte(begin)}")
        if tag not in _SUPPORTED:
            raise cant_parse(f'Unsupported start tag "{tag}" at byte offset {self.byte(begin)}')
        attrs, j = self.attributes(tag, begin, j)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise cant_parse('Tag "span" must have class "tg-spoiler"')
        self.stack.append((tag, Open(tag, self.byte(begin), self.out.length, attrs)))
        return j

    def end_tag(self, begin: int) -> int:
        s = self.s
        name = _NAME.match(s, begin + 2)
        assert name is not None
        tag, j = name.group().lower(), name.end()
        if not self.stack:
            raise cant_parse(f"Unexpected end tag at byte offset {self.byte(begin)}")
        while j < len(s) and s[j].isspace():
            j += 1
        if j >= len(s) or s[j] != ">":
            raise cant_parse(f"Unclosed end tag at byte offset {self.byte(begin)}")
        open_tag, opened = self.stack.pop()
        if tag and tag != open_tag:
            raise cant_parse(
                f'Unmatched end tag at byte offset {self.byte(begin)}, expected "</{open_tag}>", '
                f'found "</{tag}>"'
            )
        self.finish(open_tag, opened)
        return j + 1

    def finish(self, tag: str, opened: Open) -> None:
        attrs = opened.extra
        entity: dict[str, Any]
        if tag == "a":
            href = attrs.get("href") or self.out.since(opened.start)
            link = normalize_url(href)
            if link is None:
                return
            entity = link
        elif tag == "tg-emoji":
            entity = {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
        elif tag == "blockquote":
            expandable = "expandable" in attrs
            entity = {"type": "expandable_blockquote" if expandable else "blockquote"}
        elif tag == "span":
            entity = {"type": "spoiler"}
        else:
            entity = {"type": _SIMPLE[tag]}
        language = attrs.get("class", "").removeprefix("language-") if tag == "code" else ""
        if tag == "code" and attrs.get("class", "").startswith("language-"):
            entity["_language"] = language
        if not self.merge_pre(tag, entity, opened):
            self.out.close(entity, opened.start)

    def merge_pre(self, tag: str, entity: dict[str, Any], opened: Open) -> bool:
        """``<pre><code class="language-x">`` (either nesting) is one pre with a language."""
        if tag not in {"pre", "code"} or not self.out.entities:
            return False
        inner = self.out.entities[-1]
        other = "code" if tag == "pre" else "pre"
        spans = inner.get("offset") == opened.start and inner["length"] == (
            self.out.length - opened.start
        )
        language = entity.get("_language") or inner.get("_language")
        if inner["type"] != other or not spans or not language:
            return False
        self.out.entities[-1] = {"type": "pre", "language": language, **_span(inner)}
        return True


def _span(entity: dict[str, Any]) -> dict[str, Any]:
    return {"offset": entity["offset"], "length": entity["length"]}


_PARSERS = {
    "html": lambda text: _Html(text).parse(),
    "markdown": parse_markdown,
    "markdownv2": parse_markdown_v2,
}


def parse(text: str, parse_mode: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Return the plain text and entities of ``text`` in ``parse_mode`` (any case).

    Raises:
        ApiError: 400 ``can't parse entities: ...`` as Telegram words it, or ``unsupported
            parse_mode`` for an unknown mode.
    """
    if not parse_mode:
        return text, None
    parser = _PARSERS.get(parse_mode.lower())
    if parser is None:
        raise bad_request("unsupported parse_mode")
    return parser(text)
