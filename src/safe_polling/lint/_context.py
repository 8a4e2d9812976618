"""What the rules know about one parsed module: imports, parents, scopes, names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
# (module, function) or (module, "Class.method"); module is the file stem.
FunctionKey = tuple[str, str]
# Nodes that open a new body: code inside them does not run where they appear.
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_TEST_PREFIXES = ("test_",)
_TEST_SUFFIXES = ("_test.py",)


@dataclass
class ProgramFacts:
    """Facts about the whole scanned program that per-module rules consult.

    ``starters`` are names of functions that (transitively) start polling;
    ``blocking`` maps ``(module, function)`` to why that sync function blocks;
    ``blocking_names`` are the user's configured blocking names.
    """

    starters: set[FunctionKey] = field(default_factory=set)
    blocking: dict[FunctionKey, str] = field(default_factory=dict)
    blocking_names: frozenset[str] = frozenset()


@dataclass
class ModuleContext:
    """One parsed source file and the lookups every rule needs."""

    path: str
    tree: ast.Module
    module: str
    imports: dict[str, str]
    parents: dict[ast.AST, ast.AST]
    defs: dict[str, list[FunctionNode]]
    facts: ProgramFacts
    is_test: bool = False

    @classmethod
    def build(cls, path: str, tree: ast.Module, facts: ProgramFacts) -> ModuleContext:
        """Index *tree* (parsed from *path*)."""
        parents: dict[ast.AST, ast.AST] = {}
        defs: dict[str, list[FunctionNode]] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                defs.setdefault(node.name, []).append(node)
        file = Path(path)
        module = file.parent.name if file.name == "__init__.py" else file.stem
        name = file.name
        is_test = name.startswith(_TEST_PREFIXES) or name.endswith(_TEST_SUFFIXES)
        is_test = is_test or name == "conftest.py"
        return cls(path, tree, module, _imports(tree), parents, defs, facts, is_test)

    def qualname(self, expr: ast.expr) -> str | None:
        """``a.b.c`` for a Name/Attribute chain, with the first part's import resolved."""
        parts = dotted_parts(expr)
        if parts is None:
            return None
        head = self.imports.get(parts[0], parts[0])
        return ".".join([head, *parts[1:]])

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        """The innermost ``def``/``async def`` around *node* (lambdas are see-through)."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
                return current
            current = self.parents.get(current)
        return None

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        """The class whose body defines the function around *node*, if any."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, ast.ClassDef):
                return current
            current = self.parents.get(current)
        return None

    def location(self, node: ast.AST) -> str:
        """``path:line:col`` (1-based column) of *node*."""
        return f"{self.path}:{node_line(node)}:{node_col(node)}"

    def is_imported(self, name: str) -> bool:
        """Whether *name* is bound by an import in this module."""
        return name in self.imports

    def function_key(self, node: FunctionNode) -> FunctionKey:
        """The key of a def of this module: ``(module, name)`` or ``(module, "Class.name")``."""
        parent = self.parents.get(node)
        if isinstance(parent, ast.ClassDef):
            return (self.module, f"{parent.name}.{node.name}")
        return (self.module, node.name)

    def callee_key(self, call: ast.Call) -> FunctionKey | None:
        """The key of the program function *call* calls, by name and imports, if knowable.

        ``f()`` defined here, ``f()`` imported ``from pkg.mod import f``,
        ``mod.f()`` after ``import pkg.mod as mod``, and ``self.f()`` inside a
        class that defines ``f``.
        """
        return self.function_key_of(call.func, call)

    def function_key_of(self, func: ast.expr, where: ast.AST) -> FunctionKey | None:
        """The key of the program function the expression *func* (found at *where*) names."""
        if isinstance(func, ast.Name):
            if func.id in self.imports:
                return _split(self.imports[func.id])
            return (self.module, func.id) if func.id in self.defs else None
        if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
            return None
        if func.value.id in ("self", "cls"):
            cls = self.enclosing_class(where)
            return (self.module, f"{cls.name}.{func.attr}") if cls else None
        if func.value.id in self.imports:
            return _split(f"{self.imports[func.value.id]}.{func.attr}")
        return None


def _split(qualname: str) -> FunctionKey | None:
    parts = qualname.split(".")
    return (parts[-2], parts[-1]) if len(parts) > 1 else None


def _imports(tree: ast.Module) -> dict[str, str]:
    # Imports anywhere in the file: a bot importing inside main() is common and
    # shadowing an imported name with a different meaning is rare.
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = (node.module or "").strip(".")
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
    return names


def dotted_parts(expr: ast.expr) -> list[str] | None:
    """``["a", "b", "c"]`` for ``a.b.c``; None when the chain does not start at a name."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return parts[::-1]


def dotted(expr: ast.expr) -> str | None:
    """``"a.b.c"`` for ``a.b.c`` as written (no import resolution)."""
    parts = dotted_parts(expr)
    return ".".join(parts) if parts else None


def call_name(call: ast.Call) -> str | None:
    """The last name of the called thing: ``start_polling`` for ``app.updater.start_polling()``."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def walk_own(node: ast.AST) -> Iterator[ast.AST]:
    """Every node of *node*'s own body, not descending into nested defs, lambdas, classes.

    For a function this is the code that runs when the function runs; a nested
    sync ``def`` or a lambda inside an ``async def`` runs elsewhere (often in a
    worker thread), so it is not part of the async body.
    """
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        stack: list[ast.AST] = list(reversed(node.body))
    elif isinstance(node, ast.Lambda):
        stack = [node.body]
    else:
        stack = list(reversed(list(ast.iter_child_nodes(node))))
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, _SCOPES):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(current))))


def own_calls(node: ast.AST) -> Iterator[ast.Call]:
    """The calls in *node*'s own body (see :func:`walk_own`), in source order."""
    for child in walk_own(node):
        if isinstance(child, ast.Call):
            yield child


def node_line(node: ast.AST) -> int:
    """1-based line of *node*."""
    return int(getattr(node, "lineno", 1))


def node_col(node: ast.AST) -> int:
    """1-based column of *node*."""
    return int(getattr(node, "col_offset", 0)) + 1
