"""SP401 and SP403: a webhook in a program that polls, and a webhook set on every request."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

from ._context import FunctionKey, ModuleContext, call_name
from ._engine import Finding, Rule
from ._graph import CallGraph
from ._polling_rules import can_both_run, chain, program_callers, start_places, start_sites

__all__ = ["RULES", "check_program"]

WEBHOOK_AND_POLLING = Rule(
    "SP401",
    "webhook-and-polling",
    "the program sets or runs a webhook and also polls",
    "choose one per run: for polling never set a webhook (PTB deletes it before polling); "
    "for a webhook do not poll; a mode switch (`if mode == 'webhook': ... else: ...`) is fine",
)
WEBHOOK_PER_REQUEST = Rule(
    "SP403",
    "set-webhook-per-request",
    "set_webhook is called from an HTTP request handler",
    "set the webhook once at start-up (PTB's run_webhook does), not while serving requests",
    severity="warning",
)
RULES = (WEBHOOK_AND_POLLING, WEBHOOK_PER_REQUEST)

_WEBHOOK_ATTRS = frozenset({"run_webhook", "start_webhook", "set_webhook", "setWebhook"})
_SET_WEBHOOK = frozenset({"set_webhook", "setWebhook"})
# @app.route / @app.post / @router.get ... (Flask, Quart, FastAPI, Starlette, aiohttp)
_ROUTE_DECORATORS = frozenset(
    {"route", "get", "post", "put", "patch", "delete", "api_route", "websocket"}
)
# app.add_url_rule(path, view_func=f), router.add_post(path, f), Route(path, f)
_ROUTE_REGISTRARS = frozenset(
    {"add_url_rule", "add_route", "add_get", "add_post", "add_api_route", "Route"}
)


def _webhook_calls(
    program: Sequence[ModuleContext],
) -> Iterator[tuple[ModuleContext, ast.Call, str]]:
    for ctx in program:
        for call in ctx.calls:
            if isinstance(call.func, ast.Attribute) and call.func.attr in _WEBHOOK_ATTRS:
                yield ctx, call, call.func.attr


def check_program(program: Sequence[ModuleContext], graph: CallGraph) -> Iterator[Finding]:
    """SP401 and SP403 for one program."""
    facts = program[0].facts if program else None
    starters = facts.starters if facts else set()
    places = start_places(start_sites(program, starters, graph))
    callers = program_callers(program, graph)
    poll_chains = [chain(p.ctx, p.call, p.within, callers) for p in places]
    handlers = _request_handlers(program, graph)
    for ctx, call, method in _webhook_calls(program):
        function = ctx.enclosing_function(call)
        within = ctx.function_key(function) if function else None
        links = chain(ctx, call, within, callers)
        clash = next(
            (p for p, c in zip(places, poll_chains, strict=True) if can_both_run(links, c)), None
        )
        if clash is not None:
            yield WEBHOOK_AND_POLLING.at(
                ctx,
                call,
                f"`{ast.unparse(call.func)}()` uses a webhook, but this program also polls "
                f"(at {clash.ctx.location(clash.call)}) on the same run; while a webhook is "
                "set every getUpdates fails with 409",
            )
        if method in _SET_WEBHOOK and within in handlers:
            yield WEBHOOK_PER_REQUEST.at(
                ctx,
                call,
                f"`{ast.unparse(call.func)}()` runs on every HTTP request (from "
                f"`{handlers[within][1]}`): each call drops Telegram's pending state and "
                "races with the other workers",
            )


def _request_handlers(
    program: Sequence[ModuleContext], graph: CallGraph
) -> dict[FunctionKey | None, tuple[str, str]]:
    """Functions that run while serving HTTP requests: route handlers and what they call."""
    found: dict[FunctionKey | None, tuple[str, str]] = {}
    queue: list[FunctionKey] = []
    for ctx in program:
        for function in ctx.own:
            if any(_is_route(decorator) for decorator in function.decorator_list):
                key = ctx.function_key(function)
                found[key] = (ctx.module, function.name)
                queue.append(key)
        for call in ctx.calls:
            if call_name(call) in _ROUTE_REGISTRARS:
                for arg in [*call.args, *(kw.value for kw in call.keywords)]:
                    registered = ctx.function_key_of(arg, call)
                    if registered is not None and registered not in found:
                        found[registered] = (ctx.module, registered[1])
                        queue.append(registered)
    calls_from: dict[FunctionKey, list[FunctionKey]] = {}
    for ctx in program:
        for site in graph.sites_in(ctx):
            if site.caller is not None and site.callee is not None:
                calls_from.setdefault(site.caller, []).append(site.callee)
    while queue:
        key = queue.pop()
        for callee in calls_from.get(key, []):
            if callee not in found:
                found[callee] = found[key]
                queue.append(callee)
    return found


def _is_route(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in _ROUTE_DECORATORS
