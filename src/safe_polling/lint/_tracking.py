"""Simple name tracking of sync DB connections, cursors, Redis and HTTP clients.

No type inference: a name (or ``self.attr``) is tracked when it is assigned the
result of a known constructor (``sqlite3.connect(...)``), a ``.cursor()`` of a
tracked name, or a call of a module function that returns one; or when a
parameter is annotated with a known class. Assigning anything else to a local
name forgets it, so one function's ``conn`` does not leak into another's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ._context import FunctionNode, ModuleContext, dotted, walk_own

DB_RULE = "SP301"
HTTP_RULE = "SP303"

DB_CONNECTS = {
    "sqlite3.connect": "sqlite3",
    "sqlite3.dbapi2.connect": "sqlite3",
    "psycopg2.connect": "psycopg2",
    "psycopg.connect": "psycopg",
    "psycopg.Connection.connect": "psycopg",
    "pymysql.connect": "pymysql",
    "MySQLdb.connect": "MySQLdb",
    "MySQLdb.Connect": "MySQLdb",
    "mysql.connector.connect": "mysql.connector",
}
_REDIS = frozenset(
    {
        "redis.Redis",
        "redis.StrictRedis",
        "redis.from_url",
        "redis.Redis.from_url",
        "redis.StrictRedis.from_url",
        "redis.client.Redis",
    }
)
_HTTP = frozenset({"requests.Session", "requests.session", "httpx.Client"})
_ANNOTATIONS = {
    "sqlite3.Connection": "sqlite3 connection",
    "sqlite3.Cursor": "sqlite3 cursor",
    "psycopg2.extensions.connection": "psycopg2 connection",
    "psycopg2.extensions.cursor": "psycopg2 cursor",
    "psycopg.Connection": "psycopg connection",
    "psycopg.Cursor": "psycopg cursor",
    "redis.Redis": "sync redis client",
    "redis.client.Redis": "sync redis client",
    "redis.StrictRedis": "sync redis client",
}
_DERIVED = frozenset({"cursor", "execute", "pipeline"})


@dataclass(frozen=True)
class Tracked:
    """What a tracked name holds: the rule its use breaks and a label for messages."""

    rule: str
    label: str


Scope = dict[str, Tracked]


def produced(
    ctx: ModuleContext, value: ast.expr, scope: Scope, factories: Scope
) -> Tracked | None:
    """What *value* evaluates to, when it is a sync connection/client we track."""
    if not isinstance(value, ast.Call):
        return None
    qualname = ctx.qualname(value.func)
    if qualname in DB_CONNECTS:
        return Tracked(DB_RULE, f"{DB_CONNECTS[qualname]} connection")
    if qualname in _REDIS:
        return Tracked(DB_RULE, "sync redis client")
    if qualname in _HTTP:
        return Tracked(HTTP_RULE, f"sync HTTP client ({qualname})")
    func = value.func
    if isinstance(func, ast.Attribute) and func.attr in _DERIVED:
        base = scope.get(dotted(func.value) or "")
        if base is not None:
            kind = base.label.split()[0]
            noun = "pipeline" if func.attr == "pipeline" else "cursor"
            return Tracked(base.rule, base.label if kind == "sync" else f"{kind} {noun}")
    if isinstance(func, ast.Name) and func.id in factories:
        return factories[func.id]
    return None


def bindings(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """``(target, value)`` pairs bound by an assignment or ``with ... as`` node."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield target, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        yield node.target, node.value
    elif isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            if item.optional_vars is not None:
                yield item.optional_vars, item.context_expr


class Tracker:
    """Per-module tracking state: module globals, ``self.`` attributes and factories."""

    def __init__(self, ctx: ModuleContext) -> None:
        """Compute the module-wide scope of *ctx* (twice, so factories feed globals)."""
        self.ctx = ctx
        self.factories: Scope = {}
        self.module: Scope = self._module_scope()
        self.factories = self._factories()
        self.module = self._module_scope()

    def scope(self, function: FunctionNode) -> Scope:
        """The tracked names visible in *function*'s own body."""
        scope = dict(self.module)
        declared = _globals(function)
        args = function.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            annotation = self.ctx.qualname(arg.annotation) if arg.annotation else None
            label = _ANNOTATIONS.get(annotation or "")
            if label:
                rule = HTTP_RULE if label.startswith("sync HTTP") else DB_RULE
                scope[arg.arg] = Tracked(rule, label)
            else:
                scope.pop(arg.arg, None)
        nodes = [node for node in walk_own(function) if _binds(node)]
        nodes.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
        for node in nodes:
            for target, value in bindings(node):
                key = dotted(target)
                if key is None:
                    continue
                kind = produced(self.ctx, value, scope, self.factories)
                if kind is not None:
                    scope[key] = kind
                elif "." not in key and key not in declared:
                    scope.pop(key, None)
        return scope

    def _module_scope(self) -> Scope:
        scope: Scope = {}
        for node in ast.walk(self.ctx.tree):
            if not _binds(node):
                continue
            function = self.ctx.enclosing_function(node)
            declared = _globals(function) if function else set()
            for target, value in bindings(node):
                key = dotted(target)
                if key is None:
                    continue
                if function is not None and not key.startswith("self.") and key not in declared:
                    continue
                kind = produced(self.ctx, value, scope, self.factories)
                if kind is not None:
                    scope[key] = kind
        return scope

    def _factories(self) -> Scope:
        # Module functions returning a tracked object: `def db(): return sqlite3.connect(...)`.
        found: Scope = {}
        for node in self.ctx.tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            scope = self.scope(node)
            for child in walk_own(node):
                if isinstance(child, ast.Return) and child.value is not None:
                    kind = produced(self.ctx, child.value, scope, found)
                    key = dotted(child.value)
                    kind = kind or (scope.get(key) if key else None)
                    if kind is not None:
                        found[node.name] = kind
        return found


def _binds(node: ast.AST) -> bool:
    return isinstance(node, ast.Assign | ast.AnnAssign | ast.With | ast.AsyncWith)


def _globals(function: FunctionNode | None) -> set[str]:
    if function is None:
        return set()
    return {
        name for node in walk_own(function) if isinstance(node, ast.Global) for name in node.names
    }
