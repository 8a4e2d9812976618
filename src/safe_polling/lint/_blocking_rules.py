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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ._context import FunctionKey, FunctionNode, ModuleContext, call_name, dotted, own_calls
from ._engine import Finding, Rule
from ._tracking import Scope, Tracker

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
RULES = (SYNC_DB, SLEEP, SYNC_HTTP, SUBPROCESS, BLOCKING_FUNCTION)
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
    """One blocking call: where, which rule, what it calls and why it blocks."""

    call: ast.Call
    rule: str
    what: str
    why: str
    subject: str | None = None


class BlockingAnalysis:
    """Blocking facts of a program: per-module trackers and the inferred blocking functions."""

    def __init__(self, modules: Sequence[ModuleContext]) -> None:
        """Track names in every module, then infer blocking sync functions to a fixed point."""
        self.trackers = {id(ctx): Tracker(ctx) for ctx in modules}
        self.modules = modules
        self._infer()

    def _infer(self) -> None:
        changed = True
        while changed:
            changed = False
            for ctx in self.modules:
                for key, function in _sync_functions(ctx):
                    if key in ctx.facts.blocking:
                        continue
                    for found in self.calls(ctx, function):
                        where = ctx.location(found.call)
                        ctx.facts.blocking[key] = f"it calls {found.what} at {where}"
                        changed = True
                        break

    def calls(self, ctx: ModuleContext, function: FunctionNode) -> Iterator[Blocking]:
        """The blocking calls in *function*'s own body."""
        scope = self.trackers[id(ctx)].scope(function)
        for call in own_calls(function):
            if isinstance(ctx.parents.get(call), ast.Await):
                continue
            found = _classify(ctx, call, scope)
            if found is not None:
                yield found


def _sync_functions(ctx: ModuleContext) -> Iterator[tuple[FunctionKey, ast.FunctionDef]]:
    for node in ctx.tree.body:
        if isinstance(node, ast.FunctionDef):
            yield ctx.function_key(node), node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield ctx.function_key(item), item


def _classify(ctx: ModuleContext, call: ast.Call, scope: Scope) -> Blocking | None:
    qualname = ctx.qualname(call.func) or ""
    if qualname in KNOWN_BLOCKING:
        return Blocking(call, KNOWN_BLOCKING[qualname], qualname, "")
    if qualname in _SYNC_TWINS:
        why = "the sync twin; it refuses to run inside an event loop"
        return Blocking(call, BLOCKING_FUNCTION.id, qualname, why)
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr not in _NO_IO:
        subject = dotted(func.value)
        tracked = scope.get(subject or "")
        if tracked is not None:
            what = f"{subject}.{func.attr}"
            return Blocking(call, tracked.rule, what, f"`{subject}` is a {tracked.label}", subject)
    name = call_name(call)
    if name and _configured(ctx, call, qualname, name):
        return Blocking(call, BLOCKING_FUNCTION.id, name, "configured as a blocking name")
    inferred = _inferred(ctx, call)
    if inferred and name:
        return Blocking(call, BLOCKING_FUNCTION.id, name, inferred)
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


def _inferred(ctx: ModuleContext, call: ast.Call) -> str | None:
    key = ctx.callee_key(call)
    return ctx.facts.blocking.get(key) if key else None


def check_module(ctx: ModuleContext, analysis: BlockingAnalysis) -> Iterator[Finding]:
    """SP301-SP305 for every ``async def`` of the module."""
    for node in ast.walk(ctx.tree):
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
            yield _BY_ID[found.rule].at(
                ctx,
                found.call,
                f"`{found.what}()` blocks the event loop inside `async def {node.name}`{why}; "
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
