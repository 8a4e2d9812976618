"""Simple name tracking of sync DB connections, HTTP clients, locks, futures and instances.

No type inference: a name (or ``self.attr``) is tracked when it is assigned the
result of a known constructor (``sqlite3.connect(...)``, ``threading.Lock()``),
a ``.cursor()`` of a tracked name, a call of a module function that returns one,
or an instance of a class of the program (``self.repo = Repo()``); or when a
parameter is annotated with a known class. Assigning anything else to a local
name forgets it, so one function's ``conn`` does not leak into another's.

Each function's scope is computed once and cached: recomputing the enclosing
function's declarations for every assignment made a 28.8k-line module take
175 s (see ``benchmarks/lint_bench.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ._context import FunctionKey, FunctionNode, ModuleContext, dotted, node_col, node_line

__all__ = ["DB_RULE", "HTTP_RULE", "WAIT_RULE", "Scope", "Tracked", "Tracker", "bindings"]

DB_RULE = "SP301"
HTTP_RULE = "SP303"
WAIT_RULE = "SP306"

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
    "sqlalchemy.create_engine": "sqlalchemy",
    "pymongo.MongoClient": "pymongo",
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
_LOCK = frozenset({"acquire"})
_FUTURE = frozenset({"result", "exception"})
# Sync waiting primitives: what they are and which of their methods wait.
_WAITS: dict[str, tuple[str, frozenset[str]]] = {
    **{f"threading.{name}": ("threading lock", _LOCK) for name in ("Lock", "RLock")},
    **{f"threading.{name}": ("threading semaphore", _LOCK) for name in ("Semaphore",)},
    "threading.BoundedSemaphore": ("threading semaphore", _LOCK),
    "threading.Condition": ("threading condition", frozenset({"acquire", "wait", "wait_for"})),
    "threading.Event": ("threading event", frozenset({"wait"})),
    "threading.Thread": ("thread", frozenset({"join"})),
    "threading.Barrier": ("threading barrier", frozenset({"wait"})),
    **{
        f"queue.{name}": ("queue.Queue", frozenset({"get", "put", "join"}))
        for name in ("Queue", "LifoQueue", "PriorityQueue", "SimpleQueue")
    },
    "concurrent.futures.Future": ("concurrent future", _FUTURE),
    "asyncio.run_coroutine_threadsafe": ("concurrent future", _FUTURE),
    "concurrent.futures.ThreadPoolExecutor": ("executor", frozenset({"shutdown"})),
    "concurrent.futures.ProcessPoolExecutor": ("executor", frozenset({"shutdown"})),
}
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
    "sqlalchemy.orm.Session": "sqlalchemy session",
    "sqlalchemy.engine.Engine": "sqlalchemy engine",
}
_DERIVED = frozenset({"cursor", "execute", "pipeline", "connect", "begin"})


@dataclass(frozen=True)
class Tracked:
    """What a tracked name holds: the rule its use breaks and a label for messages.

    ``methods`` are the methods that block (None: every method but ``cursor()``/
    ``pipeline()``); ``cls`` is the program class of an instance (no rule of its own:
    its methods are looked up as functions).
    """

    rule: str
    label: str
    methods: frozenset[str] | None = None
    cls: FunctionKey | None = None


Scope = dict[str, Tracked]


def produced(
    ctx: ModuleContext, value: ast.expr, scope: Scope, factories: Scope
) -> Tracked | None:
    """What *value* evaluates to, when it is something we track."""
    if not isinstance(value, ast.Call):
        return None
    qualname = ctx.qualname(value.func) or ""
    if qualname in DB_CONNECTS:
        return Tracked(DB_RULE, f"{DB_CONNECTS[qualname]} connection")
    if qualname in _REDIS:
        return Tracked(DB_RULE, "sync redis client")
    if qualname in _HTTP:
        return Tracked(HTTP_RULE, f"sync HTTP client ({qualname})")
    if qualname in _WAITS:
        label, methods = _WAITS[qualname]
        return Tracked(WAIT_RULE, label, methods)
    func = value.func
    if isinstance(func, ast.Attribute):
        base = scope.get(dotted(func.value) or "")
        if base is not None and base.label == "executor" and func.attr == "submit":
            return Tracked(WAIT_RULE, "concurrent future", _FUTURE)
        if base is not None and base.methods is None and func.attr in _DERIVED:
            kind = base.label.split()[0]
            noun = "pipeline" if func.attr == "pipeline" else "cursor"
            return Tracked(base.rule, base.label if kind == "sync" else f"{kind} {noun}")
    if isinstance(func, ast.Name) and func.id in factories:
        return factories[func.id]
    cls = ctx.resolve_class(func)
    if cls is not None:
        return Tracked("", f"{cls[1]} instance", cls=cls)
    return None


def bindings(node: ast.AST) -> list[tuple[ast.expr, ast.expr]]:
    """``(target, value)`` pairs bound by an assignment or ``with ... as`` node."""
    if isinstance(node, ast.Assign):
        return [(target, node.value) for target in node.targets]
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return [(node.target, node.value)]
    if isinstance(node, ast.With | ast.AsyncWith):
        return [
            (item.optional_vars, item.context_expr)
            for item in node.items
            if item.optional_vars is not None
        ]
    return []


class Tracker:
    """Per-module tracking state: module globals, ``self.`` attributes and factories."""

    def __init__(self, ctx: ModuleContext) -> None:
        """Compute the module-wide scope of *ctx* (twice, so factories feed globals)."""
        self.ctx = ctx
        self.factories: Scope = {}
        self._scopes: dict[ast.AST, Scope] = {}
        self._binding_nodes = [node for node in ctx.nodes if _binds(node)]
        self._binding_nodes.sort(key=lambda n: (node_line(n), node_col(n)))
        self.module: Scope = self._module_scope()
        self.factories = self._factories()
        self._scopes.clear()
        self.module = self._module_scope()

    def scope(self, function: FunctionNode) -> Scope:
        """The tracked names visible in *function*'s own body (computed once per function)."""
        cached = self._scopes.get(function)
        if cached is None:
            cached = self._scopes[function] = self._scope(function)
        return cached

    def _scope(self, function: FunctionNode) -> Scope:
        ctx = self.ctx
        scope = dict(self.module)
        declared = ctx.declared_globals(function)
        args = function.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            tracked = self._annotated(arg.annotation)
            if tracked is not None:
                scope[arg.arg] = tracked
            else:
                scope.pop(arg.arg, None)
        for node in ctx.own_nodes(function):
            if not _binds(node):
                continue
            for target, value in bindings(node):
                key = dotted(target)
                if key is None:
                    continue
                kind = produced(ctx, value, scope, self.factories)
                if kind is not None:
                    scope[key] = kind
                elif "." not in key and key not in declared:
                    scope.pop(key, None)
        return scope

    def _annotated(self, annotation: ast.expr | None) -> Tracked | None:
        if annotation is None:
            return None
        label = _ANNOTATIONS.get(self.ctx.qualname(annotation) or "")
        if label:
            rule = HTTP_RULE if label.startswith("sync HTTP") else DB_RULE
            return Tracked(rule, label)
        cls = self.ctx.resolve_class(annotation)
        return Tracked("", f"{cls[1]} instance", cls=cls) if cls else None

    def _parameter(self, function: FunctionNode, name: str) -> Tracked | None:
        args = function.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if arg.arg == name:
                return self._annotated(arg.annotation)
        return None

    def _module_scope(self) -> Scope:
        ctx = self.ctx
        scope: Scope = {}
        for node in self._binding_nodes:
            function = ctx.enclosing_function(node)
            declared = ctx.declared_globals(function)
            for target, value in bindings(node):
                key = dotted(target)
                if key is None:
                    continue
                if function is not None and not key.startswith("self.") and key not in declared:
                    continue
                kind = produced(ctx, value, scope, self.factories)
                if kind is None and function is not None and isinstance(value, ast.Name):
                    kind = self._parameter(function, value.id)  # self.repo = repo
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
            for child in self.ctx.own_nodes(node):
                if isinstance(child, ast.Return) and child.value is not None:
                    kind = produced(self.ctx, child.value, scope, found)
                    key = dotted(child.value)
                    kind = kind or (scope.get(key) if key else None)
                    if kind is not None:
                        found[node.name] = kind
        return found


_BINDERS = (ast.Assign, ast.AnnAssign, ast.With, ast.AsyncWith)


def _binds(node: ast.AST) -> bool:
    return isinstance(node, _BINDERS)
