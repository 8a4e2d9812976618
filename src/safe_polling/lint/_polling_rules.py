"""SP1xx: where polling starts, how often, and whether through safe_polling."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ._context import FunctionKey, ModuleContext
from ._engine import Finding, Rule

MULTIPLE_STARTS = Rule(
    "SP101",
    "multiple-polling-starts",
    "polling is started from more than one place in the program",
    "start polling exactly once, with safe_polling.run_polling(application); remove this start",
)
RAW_START = Rule(
    "SP102",
    "polling-outside-safe-polling",
    "polling is started without safe_polling (no lease, no guard, no deleteWebhook)",
    "call safe_polling.run_polling(application), or `await safe_polling.safe_start_polling("
    "application)` when you run the event loop yourself",
)
FLAG_GUARD = Rule(
    "SP103",
    "in-process-polling-flag",
    "a global flag guards the polling start; it cannot see a second process",
    "delete the flag and start with safe_polling.run_polling: its lease keeps one poller "
    "across processes and deploys",
)
RULES = (MULTIPLE_STARTS, RAW_START, FLAG_GUARD)

SAFE_STARTS = frozenset(
    {
        "safe_polling.run_polling",
        "safe_polling.safe_start_polling",
        "safe_polling._run.run_polling",
        "safe_polling._polling.safe_start_polling",
    }
)
START_ATTRS = frozenset({"run_polling", "start_polling"})


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


def starter_callee(
    ctx: ModuleContext, call: ast.Call, starters: set[FunctionKey]
) -> FunctionKey | None:
    """The user's polling-starting function that *call* calls, if any."""
    key = ctx.callee_key(call)
    return key if key in starters else None


def compute_starters(modules: Sequence[ModuleContext]) -> set[FunctionKey]:
    """Functions that start polling, directly or through another such function."""
    starters: set[FunctionKey] = set()
    changed = True
    while changed:
        changed = False
        for ctx in modules:
            for call in _calls(ctx):
                if start_kind(ctx, call) is None and not starter_callee(ctx, call, starters):
                    continue
                function = ctx.enclosing_function(call)
                if function is not None and ctx.function_key(function) not in starters:
                    starters.add(ctx.function_key(function))
                    changed = True
    return starters


def _calls(ctx: ModuleContext) -> Iterator[ast.Call]:
    for node in ast.walk(ctx.tree):
        if isinstance(node, ast.Call):
            yield node


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


def start_sites(modules: Sequence[ModuleContext], starters: set[FunctionKey]) -> list[StartSite]:
    """Every polling start primitive and every call of a starter function, in the program."""
    sites = []
    for ctx in modules:
        for call in _calls(ctx):
            callee = None if start_kind(ctx, call) else starter_callee(ctx, call, starters)
            if start_kind(ctx, call) or callee:
                function = ctx.enclosing_function(call)
                within = ctx.function_key(function) if function else None
                sites.append(StartSite(ctx, call, callee, within))
    return sorted(sites, key=lambda site: site.key)


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


def check_program(
    modules: Sequence[ModuleContext], starters: set[FunctionKey]
) -> Iterator[Finding]:
    """SP101: every polling start after the first, pointing at the first."""
    program = [ctx for ctx in modules if not ctx.is_test]
    places = start_places(start_sites(program, starters))
    if len(places) < 2:
        return
    first = places[0]
    where = first.ctx.location(first.call)
    for place in places[1:]:
        yield MULTIPLE_STARTS.at(
            place.ctx,
            place.call,
            f"polling is started in {len(places)} places in this program (first at {where}); "
            "a second start is a second poller and 409 Conflict",
        )


def check_module(ctx: ModuleContext) -> Iterator[Finding]:
    """SP102 and SP103 for one module."""
    for call in _calls(ctx):
        if start_kind(ctx, call) != "raw":
            continue
        text = ast.unparse(call.func)
        yield RAW_START.at(
            ctx,
            call,
            f"`{text}()` starts polling outside safe_polling: no lease across processes, "
            "no webhook deletion, no process-wide guard",
        )
    yield from _flag_guards(ctx)


def _flag_guards(ctx: ModuleContext) -> Iterator[Finding]:
    for functions in ctx.defs.values():
        for function in functions:
            if not _starts_raw(ctx, function):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Global) and ctx.enclosing_function(node) is function:
                    names = ", ".join(node.names)
                    yield FLAG_GUARD.at(
                        ctx,
                        node,
                        f"`global {names}` in `{function.name}` is an in-process polling guard; "
                        "it cannot stop a second process (deploy overlap, second copy) "
                        "from polling too",
                    )


def _starts_raw(ctx: ModuleContext, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(node, ast.Call)
        and start_kind(ctx, node) == "raw"
        and ctx.enclosing_function(node) is function
        for node in ast.walk(function)
    )
