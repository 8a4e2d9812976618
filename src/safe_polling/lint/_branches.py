"""Whether two places of one module cannot both run: opposite branches, or a return between.

``if mode == "webhook": app.run_webhook() else: app.run_polling()`` is one start,
not two; so is ``if webhook: app.run_webhook(); return`` followed by
``app.run_polling()``.
"""

from __future__ import annotations

import ast

from ._context import ModuleContext

__all__ = ["exclusive"]

_BRANCHES = (ast.If, ast.IfExp)
_EXIT_CALLS = frozenset({"sys.exit", "os._exit", "exit", "quit"})


def exclusive(ctx: ModuleContext, a: ast.AST, b: ast.AST) -> bool:
    """True when *a* and *b* are in branches of one ``if``/``match`` that exclude each other,
    or one of them is followed by a ``return``/``raise`` before the other."""
    if a is b:
        return False
    path_a = _path(ctx, a)
    child_b = b
    node = ctx.parents.get(b)
    while node is not None:
        child_a = path_a.get(node)
        if child_a is not None:
            return _split(ctx, node, child_a, child_b, a, b)
        child_b = node
        node = ctx.parents.get(node)
    return False


def _path(ctx: ModuleContext, node: ast.AST) -> dict[ast.AST, ast.AST]:
    # ancestor -> its child on the way down to node
    path: dict[ast.AST, ast.AST] = {}
    child = node
    parent = ctx.parents.get(node)
    while parent is not None:
        path[parent] = child
        child, parent = parent, ctx.parents.get(parent)
    return path


def _split(
    ctx: ModuleContext,
    node: ast.AST,
    child_a: ast.AST,
    child_b: ast.AST,
    a: ast.AST,
    b: ast.AST,
) -> bool:
    if isinstance(node, _BRANCHES):
        in_body = _member(node.body, child_a), _member(node.body, child_b)
        in_else = _member(node.orelse, child_a), _member(node.orelse, child_b)
        return (in_body[0] and in_else[1]) or (in_body[1] and in_else[0])
    if isinstance(node, ast.Match):
        return child_a is not child_b
    for block in _blocks(node):
        index_a, index_b = _index(block, child_a), _index(block, child_b)
        if index_a is None or index_b is None or index_a == index_b:
            continue
        earlier, low, high = (a, index_a, index_b) if index_a < index_b else (b, index_b, index_a)
        if any(_terminal(ctx, statement) for statement in block[low:high]):
            return True
        return _leaves_after(ctx, earlier, block[low])
    return False


def _member(body: ast.AST | list[ast.stmt], child: ast.AST) -> bool:
    if isinstance(body, list):
        return any(statement is child for statement in body)
    return body is child


def _index(block: list[ast.stmt], child: ast.AST) -> int | None:
    for i, statement in enumerate(block):
        if statement is child:
            return i
    return None


def _blocks(node: ast.AST) -> list[list[ast.stmt]]:
    blocks = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(node, name, None)
        if isinstance(value, list):
            blocks.append(value)
    return blocks


def _leaves_after(ctx: ModuleContext, node: ast.AST, top: ast.stmt) -> bool:
    # Some block between *node* and *top* (a statement of the common block) ends in a
    # return/raise after node's statement: control never reaches the later statement.
    child = node
    parent = ctx.parents.get(node)
    while child is not top and parent is not None:
        for block in _blocks(parent):
            index = _index(block, child)
            if index is not None and any(_terminal(ctx, s) for s in block[index:]):
                return True
        child, parent = parent, ctx.parents.get(parent)
    return False


def _terminal(ctx: ModuleContext, statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Return | ast.Raise):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        return ctx.qualname(statement.value.func) in _EXIT_CALLS
    return False
