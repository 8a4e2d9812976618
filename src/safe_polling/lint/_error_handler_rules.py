"""SP2xx: error handlers that restart, retry or re-raise instead of logging."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from ._context import FunctionNode, ModuleContext, call_name
from ._engine import Finding, Rule

__all__ = ["RULES", "check_module", "error_handlers", "restart_target"]

_LOG_ONLY = (
    "only log in an error handler (application.add_error_handler(safe_polling."
    "logging_error_handler)); PTB keeps polling after a handler error"
)
RESTART = Rule(
    "SP201",
    "error-handler-restarts",
    "an error handler starts or restarts the bot (a second poller: 409 Conflict)",
    _LOG_ONLY,
)
RETRY_LOOP = Rule(
    "SP202",
    "error-handler-retries",
    "an error handler retries in a loop ('Attempt 1/3')",
    _LOG_ONLY + "; retry the failing operation inside the handler that runs it, if at all",
)
PROCESS_RESTART = Rule(
    "SP203",
    "error-handler-exits",
    "an error handler exits or re-executes the process",
    _LOG_ONLY + "; let the process supervisor (Render, systemd) restart a process that died",
)
RERAISE = Rule(
    "SP204",
    "error-handler-reraises",
    "an error handler re-raises the error",
    "log the error and return; nothing above an error handler recovers from it",
)
EXIT_ON_CONFLICT = Rule(
    "SP205",
    "exit-on-conflict",
    "the process exits or restarts when Telegram answers 409 Conflict",
    "on Conflict wait and let the other instance finish (PTB retries getUpdates; "
    "safe_polling.run_polling stands by on its lease): an exit makes the supervisor start "
    "another copy, and the two keep conflicting",
)
RULES = (RESTART, RETRY_LOOP, PROCESS_RESTART, RERAISE, EXIT_ON_CONFLICT)

_HANDLER_NAME_RE = re.compile(
    r"^_*((on|handle)_(error|exception)s?|\w*(error|exception)s?_(handler|callback|hook))$",
    re.IGNORECASE,
)
_RESTART_ATTRS = frozenset(
    {"start_polling", "run_polling", "initialize", "start", "run_webhook", "start_webhook"}
)
_RESTART_NAME_RE = re.compile(
    r"^_*(re(start|launch|boot|spawn|run)\w*|(re)?start_(bot|app|application|polling|updater)"
    r"|run_(bot|polling|app)|safe_start_polling|main)$",
    re.IGNORECASE,
)
_RETRY_VAR_RE = re.compile(r"attempt|retr(y|ies)|tries|^tr(y|ial)", re.IGNORECASE)
_ATTEMPT_TEXT_RE = re.compile(
    r"\b(attempt|retry|retrying|try)\b\W*(\d+|\{\}|%\w)\s*(/|of)\s*(\d+|\{\}|%\w)",
    re.IGNORECASE,
)
_TASK_SPAWNERS = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe"})
_EXITS = frozenset(
    {
        *(f"os.{name}" for name in ("execv", "execve", "execl", "execle", "execlp", "execlpe")),
        *(f"os.{name}" for name in ("execvp", "execvpe", "_exit", "abort")),
        "sys.exit",
        "signal.raise_signal",
    }
)
Handler = FunctionNode | ast.Lambda


def error_handlers(ctx: ModuleContext) -> list[tuple[str, Handler]]:
    """The module's error handlers: registered ones (resolved to their defs) and named ones."""
    found: dict[int, tuple[str, Handler]] = {}
    for node in ctx.nodes:
        if isinstance(node, ast.Call):
            for expr in _registered(node):
                for handler in _resolve(ctx, expr):
                    found.setdefault(id(handler), (_name(handler), handler))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _HANDLER_NAME_RE.match(
            node.name
        ):
            found.setdefault(id(node), (node.name, node))
    return sorted(found.values(), key=lambda item: item[1].lineno)


def _registered(call: ast.Call) -> Iterator[ast.expr]:
    if call_name(call) == "add_error_handler":
        if call.args:
            yield call.args[0]
        yield from (kw.value for kw in call.keywords if kw.arg == "callback")
    # updater.start_polling(error_callback=...) is an error handler too.
    yield from (kw.value for kw in call.keywords if kw.arg == "error_callback")


def _resolve(ctx: ModuleContext, expr: ast.expr, depth: int = 0) -> list[Handler]:
    if depth > 3:  # handler = partial(other) = ... chains are short; cycles are not followed
        return []
    if isinstance(expr, ast.Name):
        if expr.id in ctx.defs:
            return list(ctx.defs[expr.id])
        return [h for value in _assigned(ctx, expr.id) for h in _resolve(ctx, value, depth + 1)]
    if isinstance(expr, ast.Attribute):
        return list(ctx.defs.get(expr.attr, []))
    if isinstance(expr, ast.Call) and call_name(expr) == "partial" and expr.args:
        return _resolve(ctx, expr.args[0], depth + 1)
    if isinstance(expr, ast.Lambda):
        body = expr.body
        inner = _resolve(ctx, body.func, depth + 1) if isinstance(body, ast.Call) else []
        return [expr, *inner]
    return []


def _assigned(ctx: ModuleContext, name: str) -> Iterator[ast.expr]:
    # `handler = partial(report, admin=1)` then add_error_handler(handler).
    for node in ctx.nodes:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            yield node.value


def _name(handler: Handler) -> str:
    return "<lambda>" if isinstance(handler, ast.Lambda) else handler.name


def check_module(ctx: ModuleContext) -> Iterator[Finding]:
    """SP201-SP205 for every error handler and every ``except Conflict`` of the module."""
    for name, handler in error_handlers(ctx):
        yield from _restarts(ctx, name, handler)
        yield from _retries(ctx, name, handler)
        yield from _exits(ctx, name, handler)
        yield from _reraises(ctx, name, handler)
    yield from _conflict_exits(ctx)


def _conflict_exits(ctx: ModuleContext) -> Iterator[Finding]:
    # `except Conflict: os._exit(0)` and `if isinstance(err, Conflict): sys.exit()`.
    for node in ctx.nodes:
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            body: list[ast.stmt] = node.body if _names_conflict(ctx, node.type) else []
        elif isinstance(node, ast.If) and _isinstance_conflict(ctx, node.test):
            body = node.body
        else:
            continue
        for statement in body:
            for child in ast.walk(statement):
                if not isinstance(child, ast.Call):
                    continue
                what = _exit_call(ctx, child) or restart_target(ctx, child)
                if what:
                    yield EXIT_ON_CONFLICT.at(
                        ctx,
                        child,
                        f"`{what}` runs when Telegram answers 409 Conflict: the supervisor "
                        "starts a new copy that conflicts again (a restart loop)",
                    )


def _names_conflict(ctx: ModuleContext, expr: ast.expr) -> bool:
    exprs = expr.elts if isinstance(expr, ast.Tuple) else [expr]
    return any((ctx.qualname(e) or "").rsplit(".", 1)[-1] == "Conflict" for e in exprs)


def _isinstance_conflict(ctx: ModuleContext, test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Name)
        and test.func.id == "isinstance"
        and len(test.args) == 2
        and _names_conflict(ctx, test.args[1])
    )


def _everything(handler: Handler) -> Iterator[ast.AST]:
    # The whole handler, nested functions included: a nested `async def _restart()`
    # scheduled from the handler restarts the bot just the same.
    if isinstance(handler, ast.Lambda):
        yield from ast.walk(handler.body)
    else:
        for statement in handler.body:
            yield from ast.walk(statement)


def restart_target(ctx: ModuleContext, call: ast.Call) -> str | None:
    """The restart-like thing *call* calls (``start_bot``, ``app.initialize``...), if any."""
    name = call_name(call)
    if name is None:
        return None
    if isinstance(call.func, ast.Attribute) and name in _RESTART_ATTRS:
        return ast.unparse(call.func)
    if _RESTART_NAME_RE.match(name) or ctx.callee_key(call) in ctx.facts.starters:
        return ast.unparse(call.func)
    return None


def _is_restart_reference(ctx: ModuleContext, name: ast.Name) -> bool:
    # A function passed by name (call_later(5, start_bot)), resolved like a call.
    if _RESTART_NAME_RE.match(name.id):
        return True
    return ctx.function_key_of(name, name) in ctx.facts.starters


def _restarts(ctx: ModuleContext, name: str, handler: Handler) -> Iterator[Finding]:
    for node in _everything(handler):
        if not isinstance(node, ast.Call):
            continue
        target = restart_target(ctx, node)
        if target:
            parent = ctx.parents.get(node)
            spawned = isinstance(parent, ast.Call) and call_name(parent) in _TASK_SPAWNERS
            how = " in a new task" if spawned else ""
            yield RESTART.at(
                ctx,
                node,
                f"error handler `{name}` restarts the bot: calls `{target}()`{how}; "
                "each error starts another poller (409 Conflict) or a restart loop",
            )
        for arg in [*node.args, *(kw.value for kw in node.keywords)]:
            if isinstance(arg, ast.Name) and _is_restart_reference(ctx, arg):
                yield RESTART.at(
                    ctx,
                    arg,
                    f"error handler `{name}` schedules `{arg.id}` to run: each error "
                    "starts another poller (409 Conflict) or a restart loop",
                )


def _retries(ctx: ModuleContext, name: str, handler: Handler) -> Iterator[Finding]:
    loops: list[ast.AST] = []
    for node in _everything(handler):
        if isinstance(node, ast.For | ast.AsyncFor | ast.While) and _is_retry_loop(ctx, node):
            loops.append(node)
            yield RETRY_LOOP.at(
                ctx,
                node,
                f"error handler `{name}` retries in a loop; a handler error is not a reason "
                "to run the bot again",
            )
    in_loops = {id(child) for loop in loops for child in ast.walk(loop)}
    for node in _everything(handler):
        if id(node) in in_loops or isinstance(ctx.parents.get(node), ast.JoinedStr):
            continue
        if isinstance(node, ast.Constant | ast.JoinedStr) and _ATTEMPT_TEXT_RE.search(_text(node)):
            yield RETRY_LOOP.at(
                ctx, node, f"error handler `{name}` counts attempts ('Attempt 1/3'): a retry loop"
            )
    if not isinstance(handler, ast.Lambda):
        for decorator in handler.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            qualname = ctx.qualname(target) or ""
            if qualname.split(".")[-1] == "retry" or qualname.startswith("backoff."):
                yield RETRY_LOOP.at(
                    ctx, decorator, f"error handler `{name}` is decorated to retry (`{qualname}`)"
                )


def _is_retry_loop(ctx: ModuleContext, loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    watched = loop.target if isinstance(loop, ast.For | ast.AsyncFor) else loop.test
    if any(
        isinstance(node, ast.Name) and _RETRY_VAR_RE.search(node.id) for node in ast.walk(watched)
    ):
        return True
    return any(
        isinstance(node, ast.Call) and restart_target(ctx, node) is not None
        for statement in loop.body
        for node in ast.walk(statement)
    )


def _text(node: ast.Constant | ast.JoinedStr) -> str:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    return "".join(
        part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
        for part in node.values
    )


def _exits(ctx: ModuleContext, name: str, handler: Handler) -> Iterator[Finding]:
    for node in _everything(handler):
        what = None
        if isinstance(node, ast.Call):
            what = _exit_call(ctx, node)
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                what = "raise SystemExit"
        if what:
            yield PROCESS_RESTART.at(
                ctx,
                node,
                f"error handler `{name}` ends or re-executes the process (`{what}`): "
                "one bad update takes the whole bot down or into a restart loop",
            )


def _exit_call(ctx: ModuleContext, call: ast.Call) -> str | None:
    qualname = ctx.qualname(call.func) or ""
    if qualname in _EXITS:
        return qualname
    if qualname in ("exit", "quit") and not ctx.is_imported(qualname):
        return qualname
    args = [*call.args, *(kw.value for kw in call.keywords)]
    if qualname == "os.kill" and args and "getpid" in ast.unparse(args[0]):
        return "os.kill(os.getpid(), ...)"
    spawns = qualname.startswith(("subprocess.", "os.spawn", "os.exec"))
    if spawns and any("sys.executable" in ast.unparse(arg) for arg in args):
        return f"{qualname}(sys.executable, ...)"
    return None


def _reraises(ctx: ModuleContext, name: str, handler: Handler) -> Iterator[Finding]:
    if isinstance(handler, ast.Lambda):
        return
    for node in ast.walk(handler):
        if not isinstance(node, ast.Raise) or ctx.enclosing_function(node) is not handler:
            continue
        exc = node.exc
        if exc is None or (isinstance(exc, ast.Attribute) and exc.attr == "error"):
            shown = "raise" if exc is None else f"raise {ast.unparse(exc)}"
            yield RERAISE.at(
                ctx,
                node,
                f"error handler `{name}` re-raises (`{shown}`): the error escapes the "
                "handler instead of being logged once",
            )
