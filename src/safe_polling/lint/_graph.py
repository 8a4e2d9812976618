"""The program's call graph: which function each call reaches, and who calls whom.

Built once per run over every module: calls by name and imports (``f()``,
``mod.f()``), methods of ``self`` and of instances of the program's own classes
(``self.repo.get()`` after ``self.repo = Repo()``, ``db.fetch()`` after
``db = Database()`` here or in the module it is imported from).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ._context import FunctionKey, FunctionNode, ModuleContext, dotted
from ._tracking import Scope, Tracker

__all__ = ["CallGraph", "CallSite"]


@dataclass(frozen=True, eq=False)
class CallSite:
    """One call: where it is, the function whose body runs it, and what it calls."""

    ctx: ModuleContext
    call: ast.Call
    caller: FunctionKey | None
    callee: FunctionKey | None
    awaited: bool


class CallGraph:
    """Per-module trackers, every call site, and callers by callee."""

    def __init__(self, modules: Sequence[ModuleContext]) -> None:
        """Track names in every module, then resolve every call once."""
        self.modules = modules
        self.trackers = {ctx.module: Tracker(ctx) for ctx in modules}
        self.functions: dict[FunctionKey, tuple[ModuleContext, FunctionNode]] = {}
        # Two defs can share a key (nested functions, redefinitions): async only if all are.
        self._async: set[FunctionKey] = set()
        self._sync: set[FunctionKey] = set()
        self.sites: list[CallSite] = []
        self.callers: dict[FunctionKey, list[CallSite]] = {}
        self.by_module: dict[str, list[CallSite]] = {ctx.module: [] for ctx in modules}
        for ctx in modules:
            for function in ctx.own:
                key = ctx.function_key(function)
                self.functions.setdefault(key, (ctx, function))
                kinds = self._async if isinstance(function, ast.AsyncFunctionDef) else self._sync
                kinds.add(key)
                scope = self.scope(ctx, function)
                for node in ctx.own_nodes(function):
                    if isinstance(node, ast.Call):
                        self._add(ctx, node, key, scope)
            module_scope = self.trackers[ctx.module].module
            for node in ctx.calls:
                if ctx.enclosing_function(node) is None:
                    self._add(ctx, node, None, module_scope)

    def _add(
        self, ctx: ModuleContext, call: ast.Call, caller: FunctionKey | None, scope: Scope
    ) -> None:
        awaited = isinstance(ctx.parents.get(call), ast.Await)
        site = CallSite(ctx, call, caller, self.callee(ctx, call, scope), awaited)
        self.sites.append(site)
        self.by_module[ctx.module].append(site)
        if site.callee is not None:
            self.callers.setdefault(site.callee, []).append(site)

    def scope(self, ctx: ModuleContext, function: FunctionNode) -> Scope:
        """The tracked names in *function*'s body."""
        return self.trackers[ctx.module].scope(function)

    def callee(self, ctx: ModuleContext, call: ast.Call, scope: Scope) -> FunctionKey | None:
        """The program function *call* calls, if it can be known."""
        key = ctx.callee_key(call)
        func = call.func
        if key is None and isinstance(func, ast.Attribute):
            tracked = scope.get(dotted(func.value) or "")
            if tracked is not None and tracked.cls is not None:
                return (tracked.cls[0], f"{tracked.cls[1]}.{func.attr}")
        if key is not None and "." in key[1] and key not in self.functions:
            # `from storage import db; db.fetch()`: db is an instance made in storage.
            head, _, method = key[1].rpartition(".")
            tracker = self.trackers.get(key[0])
            tracked = tracker.module.get(head) if tracker else None
            if tracked is not None and tracked.cls is not None:
                return (tracked.cls[0], f"{tracked.cls[1]}.{method}")
        return key

    def is_async(self, key: FunctionKey | None) -> bool:
        """Whether *key* is an ``async def`` of the program."""
        return key in self._async and key not in self._sync

    def reachable_from_async(self) -> set[FunctionKey]:
        """Sync functions that run inside the event loop: called (not awaited, not passed to a
        thread) from an ``async def``, directly or through other such sync functions."""
        found: set[FunctionKey] = set()
        # Tests drive the bot's sync entry points from async tests on purpose: not counted.
        queue = [
            k for k, (ctx, _) in self.functions.items() if self.is_async(k) and not ctx.is_test
        ]
        calls_from: dict[FunctionKey, list[CallSite]] = {}
        for site in self.sites:
            if site.caller is not None and not site.ctx.is_test:
                calls_from.setdefault(site.caller, []).append(site)
        while queue:
            key = queue.pop()
            for site in calls_from.get(key, []):
                callee = site.callee
                if callee is None or callee in found or self.is_async(callee):
                    continue
                if callee in self.functions:
                    found.add(callee)
                    queue.append(callee)
        return found

    def sites_in(self, ctx: ModuleContext) -> Iterator[CallSite]:
        """The call sites of one module."""
        return iter(self.by_module.get(ctx.module, []))
