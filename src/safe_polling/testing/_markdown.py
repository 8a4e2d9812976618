"""``parse_mode`` Markdown and MarkdownV2, parsed the way Telegram parses them.

MarkdownV2 follows the Bot API's formatting rules: ``*bold*``, ``_italic_``, ``__underline__``,
``~strike~``, ``||spoiler||``, ``[text](url)``, ``![emoji](tg://emoji?id=N)``, `` `code` ``,
```` ```language`` pre blocks, ``>`` block quotes (expandable when the last line ends in
``||``); ``__`` is read greedily left to right; every other reserved character
(``_*[]()~`>#+-=|{}.!``) must be escaped with ``\\``. Error texts are tdlib's, checked against
its own test cases (``test/message_entities.cpp``): ``Character '.' is reserved and must be
escaped with the preceding '\\'``, ``Can't find end of Bold entity at byte offset N``...

Markdown (legacy) has ``*bold*``, ``_italic_``, `` `code` ``, ```` ``` ```` pre and
``[text](url)``, no nesting, and ``\\`` escapes only ``_*`[``; an unclosed entity is ``Can't find
end of the entity starting at byte offset N``.
"""

from __future__ import annotations

from typing import Any

from safe_polling.testing._entities import Builder, Open, cant_parse, normalize_url

__all__ = ["parse_markdown", "parse_markdown_v2"]

RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_CODE = frozenset({"Code", "Pre", "PreCode"})
_SIMPLE = {"Bold": "bold", "Italic": "italic", "Underline": "underline"}
_SIMPLE.update({"Strikethrough": "strikethrough", "Spoiler": "spoiler", "Code": "code"})
# Begin marks -> entity kind (longest marks first).
_BEGIN = (("__", "Underline"), ("||", "Spoiler"), ("![", "CustomEmoji"))
_BEGIN_ONE = {"_": "Italic", "*": "Bold", "~": "Strikethrough", "[": "TextUrl", "`": "Code"}
_END = {
    "Bold": "*",
    "Underline": "__",
    "Strikethrough": "~",
    "Spoiler": "||",
    "Code": "`",
    "Pre": "```",
    "PreCode": "```",
    "TextUrl": "]",
    "CustomEmoji": "]",
}


def _line_start(s: str, i: int) -> bool:
    return i == 0 or s[i - 1] in "\r\n"


def _line_break_at(s: str, i: int) -> int:
    """Length of the line break at ``i`` (``\\n``, ``\\r``, ``\\r\\n`` or ``\\n\\r``), or 0."""
    if i >= len(s) or s[i] not in "\r\n":
        return 0
    return 2 if s[i + 1 : i + 2] in "\r\n" and s[i + 1 : i + 2] not in ("", s[i]) else 1


class _V2:
    def __init__(self, s: str) -> None:
        self.s = s
        self.out = Builder(s)
        self.stack: list[Open] = []
        self.quote: Open | None = None
        self.quote_depth = 0

    def fail_unclosed(self, entity: Open) -> None:
        raise cant_parse(f"Can't find end of {entity.kind} entity at byte offset {entity.byte}")

    def close_quote(self) -> None:
        quote = self.quote
        if quote is None:
            return
        if len(self.stack) > self.quote_depth:
            self.fail_unclosed(self.stack[-1])
        kind = "expandable_blockquote" if quote.extra.get("expandable") else "blockquote"
        self.out.close({"type": kind}, quote.start)
        self.quote = None

    def open_quote(self, i: int) -> None:
        self.quote = Open("BlockQuote", self.out.byte_at[i], self.out.length)
        self.quote_depth = len(self.stack)

    def line_start(self, i: int) -> int:
        """Block quote marks at the start of a line; returns how many characters they take."""
        s = self.s
        mark = 3 if s.startswith("**>", i) else 1 if s.startswith(">", i) else 0
        if self.quote is not None and (mark == 0 or mark == 3):
            self.close_quote()
        if mark and self.quote is None:
            self.open_quote(i)
        return mark

    def parse(self) -> tuple[str, list[dict[str, Any]] | None]:
        s, i = self.s, 0
        while i < len(s):
            in_code = bool(self.stack) and self.stack[-1].kind in _CODE
            if not in_code and _line_start(s, i):
                taken = self.line_start(i)
                if taken:
                    i += taken
                    continue
            c = s[i]
            if c == "\\" and i + 1 < len(s) and 0 < ord(s[i + 1]) <= 126:
                self.out.emit(s[i + 1])
                i += 2
            elif (in_code and c != "`") or (not in_code and c not in RESERVED):
                self.out.emit(c)
                i += 1
            else:
                i = self.special(i)
        self.close_quote()
        if self.stack:
            self.fail_unclosed(self.stack[-1])
        return self.out.result()

    def special(self, i: int) -> int:
        """A reserved character: the end of the open entity, a new entity, or an error."""
        s = self.s
        top = self.stack[-1] if self.stack else None
        if top is not None:
            end = _END.get(top.kind, "_")
            is_end = s.startswith(end, i) and not (top.kind == "Italic" and s.startswith("__", i))
            if is_end:
                self.stack.pop()
                if top.kind in {"TextUrl", "CustomEmoji"}:
                    return self.link_end(top, i)
                entity: dict[str, Any] = {"type": _SIMPLE.get(top.kind, "pre")}
                if top.kind == "PreCode":
                    entity["language"] = top.extra["language"]
                self.out.close(entity, top.start)
                return i + len(end)
        if s.startswith("||", i) and self.quote is not None and self.ends_quote(i + 2):
            self.quote.extra["expandable"] = True
            return i + 2
        for mark, kind in _BEGIN:
            if s.startswith(mark, i):
                self.stack.append(Open(kind, self.out.byte_at[i], self.out.length))
                return i + 2
        if s.startswith("```", i):
            return self.pre_begin(i)
        kind_one = _BEGIN_ONE.get(s[i])
        if kind_one is None:
            raise cant_parse(
                f"Character '{s[i]}' is reserved and must be escaped with the preceding '\\'"
            )
        self.stack.append(Open(kind_one, self.out.byte_at[i], self.out.length))
        return i + 1

    def ends_quote(self, j: int) -> bool:
        """Whether position ``j`` is the end of the last line of the block quote."""
        if j >= len(self.s):
            return True
        brk = _line_break_at(self.s, j)
        return brk > 0 and not self.s.startswith(">", j + brk)

    def pre_begin(self, i: int) -> int:
        s = self.s
        j = i + 3
        while j < len(s) and not s[j].isspace() and s[j] != "`":
            j += 1
        start = Open("Pre", self.out.byte_at[i], self.out.length)
        if j < len(s) and s[j].isspace():
            language = s[i + 3 : j]
            if language:
                start = Open("PreCode", start.byte, start.start, {"language": language})
            j += _line_break_at(s, j)
        else:
            j = i + 3
        self.stack.append(start)
        return j

    def link_end(self, top: Open, i: int) -> int:
        """``]`` of a text link or custom emoji, with the ``(url)`` that may follow."""
        s = self.s
        j = i + 1
        url: str | None = None
        if s.startswith("(", j):
            j += 1
            chars: list[str] = []
            while j < len(s) and s[j] != ")":
                if s[j] == "\\" and j + 1 < len(s) and 0 < ord(s[j + 1]) <= 126:
                    j += 1
                chars.append(s[j])
                j += 1
            if j >= len(s):
                what = "a custom emoji URL" if top.kind == "CustomEmoji" else "a URL"
                raise cant_parse(
                    f"Can't find end of {what} at byte offset {self.out.byte_at[i + 2]}"
                )
            url = "".join(chars)
            j += 1
        if top.kind == "CustomEmoji":
            self.out.close({"type": "custom_emoji", "custom_emoji_id": _emoji_id(url)}, top.start)
            return j
        if url is None:
            url = self.out.since(top.start)
        link = normalize_url(url)
        if link is not None:
            self.out.close(link, top.start)
        return j


def _emoji_id(url: str | None) -> str:
    if url is None:
        raise cant_parse("Custom emoji entity must contain a tg://emoji URL")
    scheme, _, rest = url.partition(":")
    if scheme.lower() != "tg":
        raise cant_parse("Custom emoji URL must have scheme tg")
    rest = rest.removeprefix("//")
    host, _, query = rest.split("#", 1)[0].partition("?")
    if host.rstrip("/").lower() != "emoji":
        raise cant_parse('Custom emoji URL must have host "emoji"')
    query = query.split("#", 1)[0]
    values = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    if "id" not in values:
        raise cant_parse("Custom emoji URL must have an emoji identifier")
    emoji_id = values["id"]
    if not emoji_id.isdigit() or emoji_id.startswith("0"):
        raise cant_parse("Invalid custom emoji identifier specified")
    return emoji_id


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Text and entities of a MarkdownV2 ``text``.

    Raises:
        ApiError: 400 ``can't parse entities: ...`` with Telegram's detail.
    """
    return _V2(text).parse()


_LEGACY = {"_": "italic", "*": "bold", "`": "code", "[": "text_link"}


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Text and entities of a legacy Markdown ``text``.

    Raises:
        ApiError: 400 ``can't parse entities: Can't find end of the entity starting at byte
            offset N``.
    """
    out = Builder(text)
    s, i = text, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and s[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.emit(s[i + 1])
            i += 2
            continue
        if c not in _LEGACY:
            out.emit(c)
            i += 1
            continue
        begin = i
        is_pre = s.startswith("```", i)
        end_mark = "```" if is_pre else "]" if c == "[" else c
        i += 3 if is_pre else 1
        language = ""
        if is_pre:
            j = i
            while j < len(s) and not s[j].isspace() and s[j] != "`":
                j += 1
            if j < len(s) and s[j].isspace():
                language, i = s[i:j], j + _line_break_at(s, j)
        end = s.find(end_mark, i)
        if end < 0:
            raise cant_parse(
                f"Can't find end of the entity starting at byte offset {out.byte_at[begin]}"
            )
        start = out.length
        out.emit(s[i:end])
        i = end + len(end_mark)
        if is_pre:
            entity: dict[str, Any] = {"type": "pre"}
            if language:
                entity["language"] = language
            out.close(entity, start)
        elif c == "[":
            url = s[i + 1 : s.find(")", i)] if s.startswith("(", i) and ")" in s[i:] else None
            if url is not None:
                i = s.find(")", i) + 1
            link = normalize_url(url if url is not None else out.since(start))
            if link is not None:
                out.close(link, start)
        else:
            out.close({"type": _LEGACY[c]}, start)
    return out.result()
