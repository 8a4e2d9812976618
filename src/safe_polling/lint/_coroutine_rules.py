"""SP501: a coroutine function of the program called without ``await``.

``ensure_polling_mode()`` written where ``await ensure_polling_mode()`` was meant
creates a coroutine and drops it: the body never runs (Python only warns
"coroutine ... was never awaited" when it is garbage-collected, in a log nobody
reads). Only a call that is a whole statement is reported: a coroutine stored,
returned, or passed on (``create_task``, ``gather``, ``asyncio.run``) is used.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ._context import ModuleContext
from ._engine import Finding, Rule
from ._graph import CallGraph

__all__ = ["RULES", "check_module"]

UNAWAITED = Rule(
    "SP501",
    "unawaited-coroutine",
    "a coroutine function of the program is called without await: its body never runs",
    "`await` it, or schedule it with `asyncio.create_task(...)` / "
    "`application.create_task(...)` and keep the task",
)
RULES = (UNAWAITED,)


def check_module(ctx: ModuleContext, graph: CallGraph) -> Iterator[Finding]:
    """SP501 for the module's call statements."""
    for site in graph.sites_in(ctx):
        if site.awaited or not graph.is_async(site.callee):
            continue
        if not isinstance(ctx.parents.get(site.call), ast.Expr):
            continue
        name = ast.unparse(site.call.func)
        yield UNAWAITED.at(
            ctx,
            site.call,
            f"`{name}()` is an async function called without `await`: it returns a "
            "coroutine that is dropped, so its body never runs",
        )
