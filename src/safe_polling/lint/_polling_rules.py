"""SP1xx: where polling starts, how often, and whether the event loop is already running.

PTB 22 (checked in 22.8, ``telegram/ext/_updater.py``: ``Updater._bootstrap`` is called
by ``start_polling`` with no webhook URL and then always calls ``delete_webhook``)
deletes the webhook before it polls, so a plain ``application.run_polling()`` is a
correct start: these rules do not ask for safe_polling, they find starts that cannot
work (two pollers in one program, a start inside a running event loop).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ._branches import exclusive
from ._context import FunctionKey, ModuleContext
from ._engine import Finding, Rule
from ._graph import CallGraph, CallSite

__all__ = [
    "RULES",
    "StartSite",
    "chain",
    "check_module",
    "check_program",
    "compute_starters",
    "start_kind",
    "start_places",
    "start_sites",
]

MULTIPLE_STARTS = Rule(
    "SP101",
    "multiple-polling-starts",
    "polling is started from more than one place in the program",
    "start polling exactly once, with safe_polling.run_polling(application); remove this start",
)
FLAG_GUARD = Rule(
    "SP103",
    "in-process-polling-flag",
    "a global flag guards the polling start; it cannot see a second process",
    "delete the flag and start with safe_polling.run_polling: its lease keeps one poller "
    "across processes and deploys",
    severity="warning",
)
RUNNING_LOOP = Rule(
    "SP104",
    "run-polling-in-running-loop",
    "run_polling()/run_webhook() is called where an event loop is already running",
    "call run_polling() from plain sync code (`if __name__ == '__main__': main()`), or, "
    "inside async code, `await application.initialize(); await application.start(); "
    "await application.updater.start_polling()` (or safe_polling.safe_start_polling)",
)
RULES = (MULTIPLE_STARTS, FLAG_GUARD, RUNNING_LOOP)

SAFE_STARTS = frozenset(
    {
        "safe_polling.run_polling",
        "safe_polling.safe_start_polling",
        "safe_polling._run.run_polling",
        "safe_polling._polling.safe_start_polling",
    }
)
START_ATTRS = frozenset({"run_polling", "start_polling"})
# Calls that run their own event loop (PTB's run_* call loop.run_until_complete).
_LOOP_RUNNERS = frozenset({"run_polling", "run_webhook"})
_SYNC_SAFE_RUNNERS = frozenset({"safe_polling.run_polling", "safe_polling._run.run_polling"})


def start_kind(ctx: ModuleContext, call: ast.Call) -> str | None:
    """``"safe"``, ``"raw"`` or None: whether *call* starts polling, and how.

    A bare ``run_polling(...)`` that is not imported from safe_polling is left
    alone (it is the user's own function; the start inside it is what counts).
    """
    qualname = ctx.qualname(call.func)
    if qualname in SAFE_STARTS:
        return "safe"
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in START_ATTRS:
        return None
    if qualname and qualname.startswith("safe_polling."):
        return "safe"
    if _own_method(ctx, call, call.func.attr):
        return None
    return "raw"


def _own_method(ctx: ModuleContext, call: ast.Call, name: str) -> bool:
    # self.start_polling() where the class defines start_polling: the user's wrapper.
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return False
    if func.value.id not in ("self", "cls"):
        return False
    cls = ctx.enclosing_class(call)
    return cls is not None and any(
        isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == name
        for item in cls.body
    )


def compute_starters(modules: Sequence[ModuleContext], graph: CallGraph) -> set[FunctionKey]:
    """Functions that start polling, directly or through another such function."""
    starters: set[FunctionKey] = set()
    queue: list[FunctionKey] = []
    for ctx in modules:
        for call in ctx.calls:
            function = ctx.enclosing_function(call)
            if function is None or start_kind(ctx, call) is None:
                continue
            key = ctx.function_key(function)
            if key not in starters:
                starters.add(key)
                queue.append(key)
    while queue:
        callee = queue.pop()
        for site in graph.callers.get(callee, []):
            if site.caller is not None and site.caller not in starters and not site.ctx.is_test:
                starters.add(site.caller)
                queue.append(site.caller)
    return starters


@dataclass(frozen=True)
class StartSite:
    """A call that starts polling: a start primitive, or a call to a starter function."""

    ctx: ModuleContext
    call: ast.Call
    callee: FunctionKey | None
    within: FunctionKey | None

    @property
    def key(self) -> tuple[str, int, int]:
        """Sort key: path, line, column."""
        return (self.ctx.path, self.call.lineno, self.call.col_offset)


def start_sites(
    modules: Sequence[ModuleContext], starters: set[FunctionKey], graph: CallGraph
) -> list[StartSite]:
    """Every polling start primitive and every call of a starter function, in *modules*."""
    sites = []
    for ctx in modules:
        for site in _running_sites(modules, ctx, graph):
            kind = start_kind(ctx, site.call)
            callee = None if kind else (site.callee if site.callee in starters else None)
            if kind or callee:
                sites.append(StartSite(ctx, site.call, callee, site.caller))
    return sorted(sites, key=lambda site: site.key)


def _running_sites(
    program: Sequence[ModuleContext], ctx: ModuleContext, graph: CallGraph
) -> Iterator[CallSite]:
    # A module's `if __name__ == "__main__":` block runs only in the program it starts.
    entry = bool(program) and program[0] is ctx
    for site in graph.sites_in(ctx):
        if entry or site.caller is not None or not ctx.under_main_guard(site.call):
            yield site


def start_places(sites: list[StartSite]) -> list[StartSite]:
    """The distinct places that start polling when the program runs.

    A wrapper like ``start_bot()`` called from one place is inlined (its inner
    start is the place); called from two places (``main`` and an error
    handler), each call is a place of its own.
    """
    callers: dict[FunctionKey, list[StartSite]] = {}
    inside: dict[FunctionKey, list[StartSite]] = {}
    for site in sites:
        if site.callee:
            callers.setdefault(site.callee, []).append(site)
        if site.within:
            inside.setdefault(site.within, []).append(site)

    def external(name: FunctionKey) -> list[StartSite]:
        return [site for site in callers.get(name, []) if site.within != name]

    def expand(site: StartSite, seen: frozenset[FunctionKey]) -> list[StartSite]:
        callee = site.callee
        if callee is None or len(callers[callee]) > 1 or callee in seen:
            return [site]
        inner = [p for s in inside.get(callee, []) for p in expand(s, seen | {callee})]
        return inner or [site]

    places: dict[int, StartSite] = {}
    for site in sites:
        if site.within is None or not external(site.within):
            for place in expand(site, frozenset()):
                places.setdefault(id(place.call), place)
    return sorted(places.values(), key=lambda site: site.key)


Link = tuple[ModuleContext, ast.AST]


def chain(
    ctx: ModuleContext,
    node: ast.AST,
    within: FunctionKey | None,
    callers: dict[FunctionKey, list[CallSite]],
) -> list[Link]:
    """*node*, then the one call of its function, then that function's one call, and so on.

    The way the program reaches *node* when that way is unique: two such chains that
    pass through opposite branches of one ``if`` cannot both run.
    """
    links: list[Link] = [(ctx, node)]
    seen: set[FunctionKey] = set()
    while within is not None and within not in seen and len(links) < 50:
        seen.add(within)
        outside = [site for site in callers.get(within, []) if site.caller != within]
        if len(outside) != 1:
            break
        links.append((outside[0].ctx, outside[0].call))
        within = outside[0].caller
    return links


def can_both_run(first: list[Link], second: list[Link]) -> bool:
    """False when two chains pass through branches that exclude each other."""
    return not any(
        a_ctx is b_ctx and exclusive(a_ctx, a, b) for a_ctx, a in first for b_ctx, b in second
    )


def program_callers(
    program: Sequence[ModuleContext], graph: CallGraph
) -> dict[FunctionKey, list[CallSite]]:
    """Callers by callee, among the call sites of *program*'s modules only."""
    callers: dict[FunctionKey, list[CallSite]] = {}
    for ctx in program:
        for site in _running_sites(program, ctx, graph):
            if site.callee is not None:
                callers.setdefault(site.callee, []).append(site)
    return callers


def check_program(
    program: Sequence[ModuleContext], starters: set[FunctionKey], graph: CallGraph
) -> Iterator[Finding]:
    """SP101: every polling start that can run after an earlier one, pointing at it."""
    places = start_places(start_sites(program, starters, graph))
    if len(places) < 2:
        return
    callers = program_callers(program, graph)
    chains = [chain(p.ctx, p.call, p.within, callers) for p in places]
    again: list[tuple[StartSite, StartSite]] = []  # (a start, an earlier one it can join)
    for i, place in enumerate(places):
        earlier = next((j for j in range(i) if can_both_run(chains[i], chains[j])), None)
        if earlier is not None:
            again.append((place, places[earlier]))
    for place, first in again:
        yield MULTIPLE_STARTS.at(
            place.ctx,
            place.call,
            f"polling is started in {len(again) + 1} places in this program "
            f"(first at {first.ctx.location(first.call)}); a second start is a second poller "
            "and 409 Conflict",
        )


def check_module(ctx: ModuleContext, in_loop: set[FunctionKey]) -> Iterator[Finding]:
    """SP103 and SP104 for one module (*in_loop*: sync functions called from async code)."""
    yield from _flag_guards(ctx)
    for call in ctx.calls:
        runner = _loop_runner(ctx, call)
        if runner is None:
            continue
        function = ctx.enclosing_function(call)
        if function is None:
            continue
        if isinstance(function, ast.AsyncFunctionDef):
            where = f"inside `async def {function.name}`"
        elif ctx.function_key(function) in in_loop:
            where = f"in `{function.name}`, which async code calls"
        else:
            continue
        yield RUNNING_LOOP.at(
            ctx,
            call,
            f"`{runner}()` runs its own event loop but is called {where}: PTB raises "
            "`RuntimeError: Cannot close a running event loop` and the bot never polls",
        )


def _loop_runner(ctx: ModuleContext, call: ast.Call) -> str | None:
    qualname = ctx.qualname(call.func) or ""
    if qualname in _SYNC_SAFE_RUNNERS:
        return qualname
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _LOOP_RUNNERS
        and not _own_method(ctx, call, func.attr)
        and not qualname.startswith("safe_polling.")
    ):
        return ast.unparse(func)
    return None


def _flag_guards(ctx: ModuleContext) -> Iterator[Finding]:
    # A `global X` is a polling flag when the function tests X, sets it to a constant
    # and starts polling: other globals (counters, caches) are not.
    for function in ctx.own:
        own = ctx.own_nodes(function)
        if not any(isinstance(n, ast.Call) and start_kind(ctx, n) == "raw" for n in own):
            continue
        tested = {
            name.id
            for node in own
            if isinstance(node, ast.If | ast.While)
            for name in ast.walk(node.test)
            if isinstance(name, ast.Name)
        }
        flagged = {
            target.id
            for node in own
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in own:
            if not isinstance(node, ast.Global):
                continue
            names = [name for name in node.names if name in tested and name in flagged]
            if names:
                yield FLAG_GUARD.at(
                    ctx,
                    node,
                    f"`global {', '.join(names)}` in `{function.name}` is an in-process polling "
                    "guard; it cannot stop a second process (deploy overlap, second copy) "
                    "from polling too",
                )
