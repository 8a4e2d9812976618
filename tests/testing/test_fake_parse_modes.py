"""Parse modes as Telegram parses them.

The cases are tdlib's own (``test/message_entities.cpp``, the parser behind telegram-bot-api):
the same input must give the same text and entities, or the same error with the same byte
offset. One test goes through PTB end to end.
"""

from __future__ import annotations

from typing import Any

import pytest
from telegram.error import BadRequest

from safe_polling.testing import FakeBotAPI
from safe_polling.testing._format import parse
from safe_polling.testing._params import ApiError

E = dict[str, Any]


def ent(kind: str, offset: int, length: int, **extra: Any) -> E:
    return {"type": kind, **extra, "offset": offset, "length": length}


STADIUM = "🏟 🏟"  # 5 UTF-16 units, 9 UTF-8 bytes

V2_ERRORS = [
    ("a.b", "Character '.' is reserved and must be escaped with the preceding '\\'"),
    ("Version 1.0!", "Character '.' is reserved and must be escaped with the preceding '\\'"),
    (f"{STADIUM}_abacaba", "Can't find end of Italic entity at byte offset 9"),
    (f"{STADIUM}_abac * asd ", "Can't find end of Bold entity at byte offset 15"),
    (f"{STADIUM}_abac * asd _", "Can't find end of Italic entity at byte offset 21"),
    (f"{STADIUM}`", "Can't find end of Code entity at byte offset 9"),
    (f"{STADIUM}```", "Can't find end of Pre entity at byte offset 9"),
    (f"{STADIUM}```a", "Can't find end of Pre entity at byte offset 9"),
    (f"{STADIUM}```a ", "Can't find end of PreCode entity at byte offset 9"),
    (f"{STADIUM}__🏟 🏟_", "Can't find end of Italic entity at byte offset 20"),
    (f"{STADIUM}_🏟 🏟__", "Can't find end of Underline entity at byte offset 19"),
    (f"{STADIUM}```🏟 🏟`", "Can't find end of Code entity at byte offset 21"),
    (f"{STADIUM}```🏟 🏟_", "Can't find end of PreCode entity at byte offset 9"),
    ("[telegram\\.org](asd\\)", "Can't find end of a URL at byte offset 16"),
    ("[telegram\\.org](", "Can't find end of a URL at byte offset 16"),
    (f"{STADIUM}__🏟 _🏟___", "Can't find end of Italic entity at byte offset 23"),
    (f"{STADIUM}__", "Can't find end of Underline entity at byte offset 9"),
    (f"{STADIUM}||test\\|", "Can't find end of Spoiler entity at byte offset 9"),
    (f"{STADIUM}!", "Character '!' is reserved and must be escaped with the preceding '\\'"),
    (f"{STADIUM}>", "Character '>' is reserved and must be escaped with the preceding '\\'"),
    (f"{STADIUM}![👍]", "Custom emoji entity must contain a tg://emoji URL"),
    (f"{STADIUM}![👍](t://emoji?id=1234)", "Custom emoji URL must have scheme tg"),
    (f"{STADIUM}![👍](tg://emoji#test)", "Custom emoji URL must have an emoji identifier"),
    (f"{STADIUM}![👍](tg://emoji?test=1231&id=025)", "Invalid custom emoji identifier specified"),
    (">*b\n>ld \n>bo\nld*\nasd\ndef", "Can't find end of Bold entity at byte offset 1"),
    (">\n*a*>2", "Character '>' is reserved and must be escaped with the preceding '\\'"),
    (">asd\n>q||ew\n||asdad", "Can't find end of Spoiler entity at byte offset 7"),
    (">asd\n>q||e||w||a\n||asdad", "Can't find end of Spoiler entity at byte offset 13"),
]

V2_OK: list[tuple[str, str, list[E]]] = [
    ("\\\\", "\\", []),
    (f"{STADIUM}_abac \\* asd _", f"{STADIUM}abac * asd ", [ent("italic", 5, 11)]),
    ("➡️ ➡️_➡️ ➡️_*➡️ ➡️*", "➡️ ➡️➡️ ➡️➡️ ➡️", [ent("italic", 5, 5), ent("bold", 10, 5)]),
    (f"{STADIUM}_🏟 *🏟*_", f"{STADIUM}🏟 🏟", [ent("italic", 5, 5), ent("bold", 8, 2)]),
    (f"{STADIUM}_🏟 __🏟___", f"{STADIUM}🏟 🏟", [ent("italic", 5, 5), ent("underline", 8, 2)]),
    (f"{STADIUM}__🏟 _🏟_ __", f"{STADIUM}🏟 🏟 ", [ent("underline", 5, 6), ent("italic", 8, 2)]),
    (f"{STADIUM}`🏟 🏟```", f"{STADIUM}🏟 🏟", [ent("code", 5, 5)]),
    (f"{STADIUM}```🏟 🏟```", f"{STADIUM} 🏟", [ent("pre", 5, 3, language="🏟")]),
    (f"{STADIUM}```🏟\n🏟```", f"{STADIUM}🏟", [ent("pre", 5, 2, language="🏟")]),
    (f"{STADIUM}**", STADIUM, []),
    ("||test||", "test", [ent("spoiler", 0, 4)]),
    (
        "`_* *_`__*` `*__",
        "_* *_ ",
        [ent("code", 0, 5), ent("code", 5, 1), ent("bold", 5, 1), ent("underline", 5, 1)],
    ),
    ("[ ](telegram.org)", " ", [ent("text_link", 0, 1, url="http://telegram.org/")]),
    ("[ ](as)", " ", []),
    ("[telegram\\.org]", "telegram.org", [ent("text_link", 0, 12, url="http://telegram.org/")]),
    (
        "[telegram\\.org](https://telegram.dog?)",
        "telegram.org",
        [ent("text_link", 0, 12, url="https://telegram.dog/?")],
    ),
    (">a", "a", [ent("blockquote", 0, 1)]),
    ("abc\n> \n> \n>\ndef", "abc\n \n \n\ndef", [ent("blockquote", 4, 5)]),
    (">*abcd*", "abcd", [ent("blockquote", 0, 4), ent("bold", 0, 4)]),
    (
        ">asd\n>q||e||w||\nasdad",
        "asd\nqew\nasdad",
        [ent("expandable_blockquote", 0, 8), ent("spoiler", 5, 1)],
    ),
    (">asd\n>q||ew||\nasdad", "asd\nqew\nasdad", [ent("blockquote", 0, 8), ent("spoiler", 5, 2)]),
    (
        f"{STADIUM}![👍](tg://emoji?id=25)a",
        f"{STADIUM}👍a",
        [ent("custom_emoji", 5, 2, custom_emoji_id="25")],
    ),
]

HTML_ERRORS = [
    (f"{STADIUM}&lt;<abacaba", "Unclosed start tag at byte offset 13"),
    (f"{STADIUM}&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
    (f"{STADIUM}&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
    (f"{STADIUM}&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
    (f"{STADIUM}&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
    (f"{STADIUM}&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    (f'{STADIUM}&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
    (f"{STADIUM}&lt;</", "Unexpected end tag at byte offset 13"),
    (f"{STADIUM}&lt;<b></b></", "Unexpected end tag at byte offset 20"),
    (f"{STADIUM}&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
    (
        f"{STADIUM}&lt;<i>a</em   >",
        'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
    ),
]

HTML_OK: list[tuple[str, str, list[E]]] = [
    ("&ge;&lt;&gt;&amp;&quot;&laquo;&#12345678;", '&ge;<>&"&laquo;&#12345678;', []),
    (f"{STADIUM}<i>🏟 &lt🏟</i>", f"{STADIUM}🏟 <🏟", [ent("italic", 5, 6)]),
    (
        f"{STADIUM}<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>",
        f"{STADIUM}🏟 ><🏟",
        [ent("italic", 5, 7), ent("bold", 9, 3)],
    ),
    (f"{STADIUM}&lt;<i>🏟 🏟&lt;</>", f"{STADIUM}<🏟 🏟<", [ent("italic", 6, 6)]),
    (
        '<span class = "tg-spoiler">a</span><b>b</b>',
        "ab",
        [ent("spoiler", 0, 1), ent("bold", 1, 1)],
    ),
    ("<a href=telegram.org> </a>", " ", [ent("text_link", 0, 1, url="http://telegram.org/")]),
    ("<a>telegram.org </a>", "telegram.org ", []),
    ("<a>telegram.org</a>", "telegram.org", [ent("text_link", 0, 12, url="http://telegram.org/")]),
    (
        f'{STADIUM}&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>',
        f"{STADIUM}<🏟 🏟<",
        [ent("pre", 6, 6, language="fift")],
    ),
    (
        f"{STADIUM}&lt;<pre><code>🏟 🏟&lt;</code></>",
        f"{STADIUM}<🏟 🏟<",
        [ent("pre", 6, 6), ent("code", 6, 6)],
    ),
    (
        "<blockquote   expandable>a&lt;<pre  >b;</></>",
        "a<b;",
        [ent("expandable_blockquote", 0, 4), ent("pre", 2, 2)],
    ),
]

LEGACY: list[tuple[str, str, list[E]]] = [
    ("*bold* _it_ `c`", "bold it c", [ent("bold", 0, 4), ent("italic", 5, 2), ent("code", 8, 1)]),
    ("a.b-c! (x)", "a.b-c! (x)", []),
    ("\\*not bold\\*", "*not bold*", []),
    ("[site](t.me/x)", "site", [ent("text_link", 0, 4, url="http://t.me/x")]),
    ("```py\nprint()```", "print()", [ent("pre", 0, 7, language="py")]),
]


def _error(text: str, mode: str) -> str:
    with pytest.raises(ApiError) as info:
        parse(text, mode)
    assert info.value.code == 400
    return info.value.description.removeprefix("Bad Request: can't parse entities: ")


@pytest.mark.parametrize(("text", "detail"), V2_ERRORS)
def test_markdown_v2_errors_name_the_character_or_entity_and_offset(
    text: str, detail: str
) -> None:
    assert _error(text, "MarkdownV2") == detail


@pytest.mark.parametrize(("text", "plain", "entities"), V2_OK)
def test_markdown_v2_gives_telegrams_text_and_entities(
    text: str, plain: str, entities: list[E]
) -> None:
    assert parse(text, "MarkdownV2") == (plain, entities or None)


def test_every_unescaped_reserved_character_is_refused_and_escaping_it_works() -> None:
    for char in "]()#+-=|{}.!":  # '>' starts a quote at the start of a line
        assert _error(char, "MarkdownV2") == (
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )
        assert parse("\\" + char, "MarkdownV2") == (char, None)


@pytest.mark.parametrize(("text", "detail"), HTML_ERRORS)
def test_html_errors_match_telegram(text: str, detail: str) -> None:
    assert _error(text, "HTML") == detail


@pytest.mark.parametrize(("text", "plain", "entities"), HTML_OK)
def test_html_gives_telegrams_text_and_entities(text: str, plain: str, entities: list[E]) -> None:
    assert parse(text, "html") == (plain, entities or None)


@pytest.mark.parametrize(("text", "plain", "entities"), LEGACY)
def test_legacy_markdown(text: str, plain: str, entities: list[E]) -> None:
    assert parse(text, "Markdown") == (plain, entities or None)


def test_legacy_markdown_unclosed_entity() -> None:
    assert _error("ok *bold", "Markdown") == (
        "Can't find end of the entity starting at byte offset 3"
    )


def test_unknown_parse_mode() -> None:
    with pytest.raises(ApiError, match=r"^Bad Request: unsupported parse_mode$"):
        parse("x", "BBCode")


async def test_ptb_gets_the_entities_and_the_400(fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.add_user(42)
    async with fake_bot_api.bot() as bot:
        message = await bot.send_message(42, "*Price:* 10\\.5 _EUR_", parse_mode="MarkdownV2")
        assert message.text == "Price: 10.5 EUR"
        assert [(e.type, e.offset, e.length) for e in message.entities] == [
            ("bold", 0, 6),
            ("italic", 12, 3),
        ]
        with pytest.raises(BadRequest, match="reserved and must be escaped") as info:
            await bot.send_message(42, "Price: 10.5", parse_mode="MarkdownV2")
    assert info.value.message == (
        "Can't parse entities: character '.' is reserved and must be escaped with the "
        "preceding '\\'"
    )
    (failed,) = [c for c in fake_bot_api.calls_to("sendMessage") if c.status == 400]
    assert failed.description == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'"
    )
    assert len(fake_bot_api.sent(42)) == 1
