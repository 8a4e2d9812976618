"""SP3xx: blocking calls inside ``async def`` that freeze the event loop.

Only calls that run in the async body count: a function *passed* to
``asyncio.to_thread``/``run_in_executor``/``anyio.to_thread.run_sync`` or wrapped
by ``safe_polling.db.to_async`` is not called there, and a nested sync ``def``
or a lambda runs elsewhere. A call that is awaited directly is not a sync
call. ``open()`` and file reads are not reported: they are short, everywhere,
and would drown the findings that freeze a bot for seconds.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ._context import FunctionKey, FunctionNode, ModuleContext, call_name, dotted
from ._engine import Finding, Rule
from ._graph import CallGraph
from ._tracking import DB_RULE, Scope, produced

__all__ = ["RULES", "BlockingAnalysis", "check_module"]

_THREAD = "or run it in a thread: `await asyncio.to_thread(func, ...)`"
SYNC_DB = Rule(
    "SP301",
    "sync-db-in-async",
    "a sync database driver call inside async def blocks the event loop",
    "use an async driver (asyncpg, redis.asyncio, aiosqlite) or safe_polling.db, " + _THREAD,
)
SLEEP = Rule(
    "SP302",
    "time-sleep-in-async",
    "time.sleep inside async def stops every handler, not just this one",
    "`await asyncio.sleep(seconds)`",
)
SYNC_HTTP = Rule(
    "SP303",
    "sync-http-in-async",
    "a sync HTTP call (requests, urllib, httpx top-level) inside async def",
    "use httpx.AsyncClient or aiohttp, " + _THREAD,
)
SUBPROCESS = Rule(
    "SP304",
    "subprocess-in-async",
    "a blocking subprocess call inside async def",
    "`await asyncio.create_subprocess_exec(...)`, " + _THREAD,
)
BLOCKING_FUNCTION = Rule(
    "SP305",
    "blocking-function-in-async",
    "a sync function that blocks (inferred, or configured as blocking) called in async def",
    "await an async version (e.g. get_user_balance_async), or wrap it: "
    "`await asyncio.to_thread(func, ...)` / `safe_polling.db.to_async(func)`",
)
WAIT = Rule(
    "SP306",
    "sync-wait-in-async",
    "a sync wait (Future.result, threading lock, Event.wait, Thread.join, queue.Queue.get, "
    "run_until_complete, asyncio.run) inside async def or a helper it calls",
    "await the asyncio equivalent (asyncio.Lock, asyncio.Event, asyncio.Queue, "
    "`await asyncio.wrap_future(future)`, `await coroutine`), " + _THREAD,
)
RULES = (SYNC_DB, SLEEP, SYNC_HTTP, SUBPROCESS, BLOCKING_FUNCTION, WAIT)
_BY_ID = {rule.id: rule for rule in RULES}

_HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")
KNOWN_BLOCKING = {
    **{name: SYNC_DB.id for name in ("sqlite3.connect", "psycopg2.connect", "psycopg.connect")},
    **{name: SYNC_DB.id for name in ("pymysql.connect", "MySQLdb.connect", "MySQLdb.Connect")},
    "mysql.connector.connect": SYNC_DB.id,
    "time.sleep": SLEEP.id,
    **{f"requests.{verb}": SYNC_HTTP.id for verb in _HTTP_VERBS},
    **{f"httpx.{verb}": SYNC_HTTP.id for verb in (*_HTTP_VERBS, "stream")},
    "urllib.request.urlopen": SYNC_HTTP.id,
    "urllib.request.urlretrieve": SYNC_HTTP.id,
    **{f"subprocess.{name}": SUBPROCESS.id for name in ("run", "call", "check_call")},
    **{f"subprocess.{name}": SUBPROCESS.id for name in ("check_output", "getoutput")},
    "subprocess.getstatusoutput": SUBPROCESS.id,
    "os.system": SUBPROCESS.id,
    "concurrent.futures.wait": WAIT.id,
    "asyncio.run": WAIT.id,
}
_LOCK_LABELS = frozenset({"threading lock", "threading semaphore", "threading condition"})
# Methods that wait whatever they are called on.
_WAIT_ATTRS = {
    "run_until_complete": "it runs an event loop to completion; inside a running loop it "
    "raises RuntimeError",
}
_SYNC_TWINS = frozenset(
    f"safe_polling.db.{prefix}{name}_user_balance"
    for prefix in ("", "_sync.")
    for name in ("get", "set", "add", "subtract")
)
# Methods of a tracked connection that do no I/O.
_NO_IO = frozenset({"cursor", "pipeline"})


@dataclass(frozen=True)
class Blocking:
    """One blocking call (or ``with lock:``): where, which rule, what it calls and why."""

    node: ast.AST
    rule: str
    what: str
    why: str
    subject: str | None = None


class BlockingAnalysis:
    """Blocking facts of a program: the blocking calls of each function, and the sync
    functions that block, directly or through the helpers they call (in any module).

    A ``threading`` lock counts only when it is held, somewhere in the program, around
    a call that blocks: taking a lock that is only held for a dict update costs
    nothing, taking one held across ``future.result(timeout=2.5)`` freezes the loop
    for as long.
    """

    def __init__(self, graph: CallGraph) -> None:
        """Find each sync function's own blocking calls, then spread along callers."""
        self.graph = graph
        self.slow_locks: dict[tuple[str, str], str] = {}
        self._blocking: dict[FunctionKey, str] = {}
        self._infer()
        self._find_slow_locks()
        self._infer()

    def _infer(self) -> None:
        # A worklist over the reverse call graph: each function is visited once.
        graph = self.graph
        blocking = self._blocking
        queue: list[FunctionKey] = []
        for key, (ctx, function) in sorted(graph.functions.items()):
            if key in blocking or ctx.is_test or not isinstance(function, ast.FunctionDef):
                continue
            found = next(self._direct(ctx, function), None)
            if found is not None:
                blocking[key] = f"it calls {found.what} at {ctx.location(found.node)}"
                queue.append(key)
        while queue:
            callee = queue.pop(0)
            for site in graph.callers.get(callee, []):
                caller = site.caller
                if caller is None or caller in blocking or site.awaited:
                    continue
                if graph.is_async(caller) or site.ctx.is_test:
                    continue
                name = call_name(site.call) or callee[1]
                blocking[caller] = f"it calls {name} at {site.ctx.location(site.call)}"
                queue.append(caller)
        for ctx in graph.modules[:1]:  # the facts object is shared by every module
            ctx.facts.blocking.update(blocking)

    def _find_slow_locks(self) -> None:
        for _key, (ctx, function) in sorted(self.graph.functions.items()):
            scope = self.graph.scope(ctx, function)
            for node in ctx.own_nodes(function):
                if isinstance(node, ast.With):
                    for subject in _lock_subjects(node, scope):
                        self._check_lock(ctx, node, (ctx.module, subject), scope)

    def _check_lock(
        self, ctx: ModuleContext, node: ast.With, lock: tuple[str, str], scope: Scope
    ) -> None:
        if lock in self.slow_locks:
            return
        for statement in node.body:
            for call in ast.walk(statement):
                if not isinstance(call, ast.Call):
                    continue
                found = _classify(ctx, call, scope) or self._inferred(ctx, call, scope)
                if found is not None:
                    where = ctx.location(found.node)
                    self.slow_locks[lock] = f"held while {found.what} runs at {where}"
                    return

    def _lock_waits(self, ctx: ModuleContext, node: ast.AST, scope: Scope) -> Iterator[Blocking]:
        subjects: list[tuple[str, ast.AST]] = []
        if isinstance(node, ast.With):
            items = {dotted(item.context_expr): item.context_expr for item in node.items}
            subjects = [(s, items[s]) for s in _lock_subjects(node, scope)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "acquire"
        ):
            subject = dotted(node.func.value)
            tracked = scope.get(subject or "")
            if subject and tracked is not None and tracked.label in _LOCK_LABELS:
                subjects = [(subject, node)]
        for subject, where in subjects:
            why = self.slow_locks.get((ctx.module, subject))
            if why is not None:
                yield Blocking(where, WAIT.id, f"with {subject}", f"`{subject}` is {why}")

    def _direct(self, ctx: ModuleContext, function: FunctionNode) -> Iterator[Blocking]:
        scope = self.graph.scope(ctx, function)
        for node in ctx.own_nodes(function):
            if isinstance(node, ast.Call) and not isinstance(ctx.parents.get(node), ast.Await):
                found = _classify(ctx, node, scope)
                if found is not None:
                    yield found
            if self.slow_locks and isinstance(node, ast.With | ast.Call):
                yield from self._lock_waits(ctx, node, scope)

    def calls(self, ctx: ModuleContext, function: FunctionNode) -> Iterator[Blocking]:
        """The blocking calls in *function*'s own body, helpers that block included."""
        scope = self.graph.scope(ctx, function)
        for node in ctx.own_nodes(function):
            if isinstance(node, ast.Call) and not isinstance(ctx.parents.get(node), ast.Await):
                found = _classify(ctx, node, scope) or self._inferred(ctx, node, scope)
                if found is not None:
                    yield found
            if self.slow_locks and isinstance(node, ast.With | ast.Call):
                yield from self._lock_waits(ctx, node, scope)

    def _inferred(self, ctx: ModuleContext, call: ast.Call, scope: Scope) -> Blocking | None:
        key = self.graph.callee(ctx, call, scope)
        why = ctx.facts.blocking.get(key) if key else None
        name = call_name(call)
        if why and name:
            return Blocking(call, BLOCKING_FUNCTION.id, name, why)
        return None


def _lock_subjects(node: ast.With, scope: Scope) -> list[str]:
    # The threading locks a `with` statement takes.
    subjects = []
    for item in node.items:
        subject = dotted(item.context_expr)
        tracked = scope.get(subject or "")
        if subject and tracked is not None and tracked.label in _LOCK_LABELS:
            subjects.append(subject)
    return subjects


def _classify(ctx: ModuleContext, call: ast.Call, scope: Scope) -> Blocking | None:
    qualname = ctx.qualname(call.func) or ""
    if qualname in KNOWN_BLOCKING:
        return Blocking(call, KNOWN_BLOCKING[qualname], qualname, "")
    if qualname in _SYNC_TWINS:
        why = "the sync twin; it refuses to run inside an event loop"
        return Blocking(call, BLOCKING_FUNCTION.id, qualname, why)
    func = call.func
    if isinstance(func, ast.Attribute):
        found = _tracked_call(ctx, call, func, scope)
        if found is not None:
            return found
    name = call_name(call)
    if name and _configured(ctx, call, qualname, name):
        return Blocking(call, BLOCKING_FUNCTION.id, name, "configured as a blocking name")
    return None


def _configured(ctx: ModuleContext, call: ast.Call, qualname: str, name: str) -> bool:
    for configured in ctx.facts.blocking_names:
        if "." in configured:
            written = dotted(call.func) or ""
            if configured in (qualname, written) or qualname.endswith("." + configured):
                return True
        elif configured == name:
            return True
    return False


def _tracked_call(
    ctx: ModuleContext, call: ast.Call, func: ast.Attribute, scope: Scope
) -> Blocking | None:
    if func.attr in _WAIT_ATTRS:
        return Blocking(call, WAIT.id, func.attr, _WAIT_ATTRS[func.attr])
    if isinstance(func.value, ast.Call):
        # asyncio.run_coroutine_threadsafe(...).result(), executor.submit(...).result()
        made = produced(ctx, func.value, scope, {})
        if made is not None and made.methods is not None and func.attr in made.methods:
            what = f"{ast.unparse(func.value.func)}(...).{func.attr}"
            return Blocking(call, made.rule, what, f"it waits on a {made.label}")
        return None
    subject = dotted(func.value)
    tracked = scope.get(subject or "")
    if tracked is None and subject and "." in subject:
        # client.db.users.find(): an attribute chain off a tracked DB client.
        head = subject.split(".")[0]
        base = scope.get(head)
        tracked = base if base is not None and base.rule == DB_RULE else None
    if tracked is None or tracked.cls is not None:
        return None
    if tracked.methods is None and func.attr in _NO_IO:
        return None
    if tracked.methods is not None and func.attr not in tracked.methods:
        return None
    if tracked.label in _LOCK_LABELS:
        return None  # see BlockingAnalysis: a lock blocks when it is held around a wait
    what = f"{subject}.{func.attr}"
    return Blocking(call, tracked.rule, what, f"`{subject}` is a {tracked.label}", subject)


def check_module(ctx: ModuleContext, analysis: BlockingAnalysis) -> Iterator[Finding]:
    """SP301-SP306 for every ``async def`` of the module."""
    for node in ctx.own:
        if not isinstance(node, ast.AsyncFunctionDef):
            continue
        reported: set[str] = set()
        for found in analysis.calls(ctx, node):
            # One finding per tracked connection per function: the first use.
            if found.subject is not None:
                if found.subject in reported:
                    continue
                reported.add(found.subject)
            why = f" ({found.why})" if found.why else ""
            shown = found.what if found.what.startswith("with ") else f"{found.what}()"
            yield _BY_ID[found.rule].at(
                ctx,
                found.node,
                f"`{shown}` blocks the event loop inside `async def {node.name}`{why}; "
                "every other update waits",
                _fix(found),
            )


def _fix(found: Blocking) -> str | None:
    if found.rule != BLOCKING_FUNCTION.id:
        return None
    name = found.what.rsplit(".", 1)[-1]
    if found.what in _SYNC_TWINS:
        return f"`await {name}_async(...)` from safe_polling.db"
    return (
        f"await an async version, or run it in a thread: `await asyncio.to_thread({name}, ...)` "
        f"or `safe_polling.db.to_async({name})`"
    )
