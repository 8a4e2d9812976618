"""SP402 and SP404: bot tokens and other secrets written into the source.

Findings show the kind and a masked prefix, never the secret.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from ._context import ModuleContext
from ._engine import Finding, Rule

__all__ = ["RULES", "check_module", "mask"]

TOKEN_LITERAL = Rule(
    "SP402",
    "token-literal",
    "a Telegram bot token is written in the source",
    "read it from the environment (os.environ['TELEGRAM_BOT_TOKEN']) and revoke this token "
    "with @BotFather: it is in your history",
)
SECRET_LITERAL = Rule(
    "SP404",
    "secret-literal",
    "an API key or a password of a common format is written in the source",
    "read it from the environment and revoke (rotate) this key at its provider: it is in "
    "your history",
)
RULES = (TOKEN_LITERAL, SECRET_LITERAL)

# A whole-string token, or one inside a URL (".../bot123456:AA.../getMe").
_TOKEN_RE = re.compile(
    r"(?:^|(?<=bot)|(?<=[^0-9A-Za-z]))(?P<id>[0-9]{6,}):[A-Za-z0-9_-]{30,}(?![A-Za-z0-9_-])"
)
_EDGE = r"(?<![A-Za-z0-9_-])"
# (kind, pattern): formats documented by each provider.
_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("OpenAI-style API key (sk-)", re.compile(_EDGE + r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}")),
    ("GitHub token", re.compile(_EDGE + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})")),
    ("Render API key (rnd_)", re.compile(_EDGE + r"rnd_[A-Za-z0-9]{20,}")),
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")),
    ("Stripe secret key", re.compile(_EDGE + r"[sr]k_live_[A-Za-z0-9]{20,}")),
    ("Slack token", re.compile(_EDGE + r"xox[abprs]-[A-Za-z0-9-]{10,}")),
    ("Google API key", re.compile(_EDGE + r"AIza[0-9A-Za-z_-]{35}")),
)
_DSN_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]*:(?P<password>[^\s@/]+)@[^\s/]+")
# Passwords that are placeholders in examples and templates, not secrets.
_PLACEHOLDERS = frozenset(
    {"password", "pass", "passwd", "secret", "changeme", "example", "postgres", "user"}
)
_PLACEHOLDER_CHARS = frozenset("{}$<>*%")


def check_module(ctx: ModuleContext) -> Iterator[Finding]:
    """SP402 and SP404: string constants that hold a bot token or another secret."""
    for node in ctx.nodes:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = node.value
        match = _TOKEN_RE.search(text)
        if match is not None:
            yield TOKEN_LITERAL.at(
                ctx,
                node,
                f"a Telegram bot token is written in the source ({mask(match.group('id'))}); "
                "anyone with the code can run, or hijack, the bot",
            )
            continue
        found = secret_kind(text, urls=not ctx.is_test)
        if found is not None:
            kind, value = found
            yield SECRET_LITERAL.at(
                ctx,
                node,
                f"a {kind} is written in the source ({value[:4]}***); anyone with the code "
                "can use it",
            )


def secret_kind(text: str, *, urls: bool = True) -> tuple[str, str] | None:
    """``(kind, secret)`` for the first secret of a known format in *text*.

    *urls*: also passwords in connection URLs (not in tests, whose fixtures are full of
    made-up ones such as ``postgres://bot:hunter2@db``).
    """
    for kind, pattern in _SECRETS:
        match = pattern.search(text)
        if match is not None:
            return kind, match.group(0)
    dsn = _DSN_RE.search(text) if urls else None
    if dsn is not None:
        password = dsn.group("password")
        placeholder = password.lower() in _PLACEHOLDERS or _PLACEHOLDER_CHARS & set(password)
        if not placeholder and len(password) >= 6:
            return "password in a connection URL", dsn.group(0).split("://")[0] + "://"
    return None


def mask(bot_id: str) -> str:
    """The masked form of a token with this bot id: ``123456:***``."""
    return f"{bot_id}:***"
