"""SP4xx: webhook mixed with polling, and bot tokens written into the source."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence

from ._context import ModuleContext
from ._engine import Finding, Rule
from ._polling_rules import start_kind

WEBHOOK_AND_POLLING = Rule(
    "SP401",
    "webhook-and-polling",
    "the program sets or runs a webhook and also polls",
    "choose one: for polling delete the webhook (safe_polling does) and never set it; "
    "for a webhook do not poll",
)
TOKEN_LITERAL = Rule(
    "SP402",
    "token-literal",
    "a Telegram bot token is written in the source",
    "read it from the environment (os.environ['TELEGRAM_BOT_TOKEN']) and revoke this token "
    "with @BotFather: it is in your history",
)
RULES = (WEBHOOK_AND_POLLING, TOKEN_LITERAL)

_WEBHOOK_ATTRS = frozenset({"run_webhook", "start_webhook", "set_webhook", "setWebhook"})
# A whole-string token, or one inside a URL (".../bot123456:AA.../getMe").
_TOKEN_RE = re.compile(
    r"(?:^|(?<=bot)|(?<=[^0-9A-Za-z]))(?P<id>[0-9]{6,}):[A-Za-z0-9_-]{30,}(?![A-Za-z0-9_-])"
)


def check_program(modules: Sequence[ModuleContext]) -> Iterator[Finding]:
    """SP401: every webhook call, when the same program also starts polling."""
    program = [ctx for ctx in modules if not ctx.is_test]
    polls = [
        (ctx, node)
        for ctx in program
        for node in ast.walk(ctx.tree)
        if isinstance(node, ast.Call) and start_kind(ctx, node)
    ]
    if not polls:
        return
    polls.sort(key=lambda item: (item[0].path, item[1].lineno, item[1].col_offset))
    where = polls[0][0].location(polls[0][1])
    for ctx in program:
        for node in ast.walk(ctx.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _WEBHOOK_ATTRS
            ):
                yield WEBHOOK_AND_POLLING.at(
                    ctx,
                    node,
                    f"`{ast.unparse(node.func)}()` uses a webhook, but this program also polls "
                    f"(at {where}); while a webhook is set every getUpdates fails with 409",
                )


def check_module(ctx: ModuleContext) -> Iterator[Finding]:
    """SP402: string constants that hold a bot token (reported masked, never in full)."""
    for node in ast.walk(ctx.tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        match = _TOKEN_RE.search(node.value)
        if match is None:
            continue
        yield TOKEN_LITERAL.at(
            ctx,
            node,
            f"a Telegram bot token is written in the source ({mask(match.group('id'))}); "
            "anyone with the code can run, or hijack, the bot",
        )


def mask(bot_id: str) -> str:
    """The masked form of a token with this bot id: ``123456:***``."""
    return f"{bot_id}:***"
