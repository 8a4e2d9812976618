"""What the rules know about one parsed module: imports, parents, scopes, names.

Everything a rule asks about a node (its parent, the function and class around it,
the nodes of a function's own body) is computed once, in one pass over the tree,
when the module is indexed: a rule that asked by walking up or down the tree again
for every node made a 28.8k-line module take minutes (quadratic).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FunctionKey",
    "FunctionNode",
    "ModuleContext",
    "ModuleIndex",
    "ProgramFacts",
    "call_name",
    "dotted",
    "dotted_parts",
    "module_name",
    "node_col",
    "node_line",
]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
# (module key, function) or (module key, "Class.method"); the module key is the
# dotted module name (``pkg.handlers.start``), made unique when two files share it.
FunctionKey = tuple[str, str]
# Nodes that open a new body: code inside them does not run where they appear.
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
Scopes = tuple[FunctionNode | None, ast.ClassDef | None]
_NO_SCOPES: Scopes = (None, None)
_TEST_PREFIXES = ("test_",)
_TEST_SUFFIXES = ("_test.py",)


def module_name(file: Path) -> tuple[Path, str]:
    """``(import root, dotted name)`` of *file*: packages are the folders with ``__init__.py``.

    ``bot/handlers/start.py`` in a package ``bot`` is ``bot.handlers.start`` under the
    folder that holds ``bot/``; a script in a plain folder is its stem under that folder
    (Python puts a script's folder first on ``sys.path``).
    """
    parts = [] if file.name == "__init__.py" else [file.stem]
    directory = file.parent
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        parts.insert(0, directory.name)
        directory = directory.parent
    return directory, ".".join(parts) or file.stem


@dataclass
class ModuleIndex:
    """Module keys by import root and dotted name, to resolve imports to files of the program."""

    by_root: dict[tuple[Path, str], str] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)

    def add(self, root: Path, name: str, path: str) -> str:
        """Register a module; returns its unique key (the dotted name, or ``name@path``)."""
        key = name if name not in self.by_name else f"{name}@{path}"
        self.by_root.setdefault((root, name), key)
        self.by_name.setdefault(name, []).append(key)
        return key

    def resolve(self, root: Path, name: str) -> str | None:
        """The key of module *name* imported from a module under *root*, if it is ours.

        The importer's own import root wins (so an archived copy elsewhere with the same
        name is not taken for it); otherwise the name must be unambiguous.
        """
        key = self.by_root.get((root, name))
        if key is not None:
            return key
        keys = self.by_name.get(name, [])
        return keys[0] if len(keys) == 1 else None


@dataclass
class ProgramFacts:
    """Facts about the whole scanned program that per-module rules consult.

    ``starters`` are functions that (transitively) start polling; ``blocking`` maps a
    sync function to why it blocks; ``blocking_names`` are the user's configured blocking
    names; ``coroutines`` are the program's ``async def`` functions; ``modules`` resolves
    imports to files of the program.
    """

    starters: set[FunctionKey] = field(default_factory=set)
    blocking: dict[FunctionKey, str] = field(default_factory=dict)
    blocking_names: frozenset[str] = frozenset()
    coroutines: set[FunctionKey] = field(default_factory=set)
    modules: ModuleIndex = field(default_factory=ModuleIndex)


@dataclass(eq=False)
class ModuleContext:
    """One parsed source file and the lookups every rule needs."""

    path: str
    tree: ast.Module
    module: str
    root: Path
    imports: dict[str, str]
    parents: dict[ast.AST, ast.AST]
    defs: dict[str, list[FunctionNode]]
    facts: ProgramFacts
    is_test: bool = False
    # node -> (enclosing def, enclosing class); the tuples are shared between siblings,
    # one dict instead of two: the AST of an 800-file bot is millions of nodes.
    scopes: dict[ast.AST, Scopes] = field(default_factory=dict)
    own: dict[FunctionNode, list[ast.AST]] = field(default_factory=dict)
    calls: list[ast.Call] = field(default_factory=list)
    nodes: list[ast.AST] = field(default_factory=list)
    class_defs: dict[str, ast.ClassDef] = field(default_factory=dict)
    imported_modules: set[str] = field(default_factory=set)
    _globals: dict[ast.AST, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, path: str, tree: ast.Module, facts: ProgramFacts, key: str | None = None
    ) -> ModuleContext:
        """Index *tree* (parsed from *path*) in one pass."""
        file = Path(path)
        root, name = module_name(file.resolve())
        name_ = file.name
        is_test = name_.startswith(_TEST_PREFIXES) or name_.endswith(_TEST_SUFFIXES)
        is_test = is_test or name_ == "conftest.py"
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        ctx = cls(path, tree, key or name, root, {}, {}, {}, facts, is_test)
        ctx._index()
        ctx.imports, ctx.imported_modules = _imports(ctx.nodes, package)
        return ctx

    def _index(self) -> None:
        # (node, (enclosing def, enclosing class), owning scope), preorder in source order.
        stack: list[tuple[ast.AST, Scopes, ast.AST | None]] = [(self.tree, _NO_SCOPES, None)]
        while stack:
            node, around, owner = stack.pop()
            self.nodes.append(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.defs.setdefault(node.name, []).append(node)
                self.own[node] = []
            elif isinstance(node, ast.ClassDef) and owner is None:
                self.class_defs.setdefault(node.name, node)
            elif isinstance(node, ast.Call):
                self.calls.append(node)
            inner: Scopes
            if isinstance(node, FunctionNode):
                inner = (node, around[1])
            elif isinstance(node, ast.ClassDef):
                inner = (around[0], node)
            else:
                inner = around
            body = _body(node)
            for child in reversed(list(ast.iter_child_nodes(node))):
                self.parents[child] = node
                self.scopes[child] = inner
                # Decorators, defaults and bases run where the def is, not in its body.
                child_owner = node if body is not None and id(child) in body else owner
                stack.append((child, inner, child_owner))
            if isinstance(owner, FunctionNode) and node is not owner:
                self.own[owner].append(node)

    def qualname(self, expr: ast.expr) -> str | None:
        """``a.b.c`` for a Name/Attribute chain, with the first part's import resolved."""
        parts = dotted_parts(expr)
        if parts is None:
            return None
        head = self.imports.get(parts[0], parts[0])
        return ".".join([head, *parts[1:]])

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        """The innermost ``def``/``async def`` around *node* (lambdas are see-through)."""
        return self.scopes.get(node, _NO_SCOPES)[0]

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        """The class whose body defines the function around *node*, if any."""
        return self.scopes.get(node, _NO_SCOPES)[1]

    def own_nodes(self, function: FunctionNode) -> list[ast.AST]:
        """The nodes of *function*'s own body, in source order: the code that runs when it runs.

        Nested ``def``/``lambda``/``class`` bodies are not part of it (a nested sync
        ``def`` or a lambda inside an ``async def`` runs elsewhere, often in a worker
        thread), nor are the function's decorators and defaults.
        """
        return self.own[function]

    def declared_globals(self, function: FunctionNode | None) -> frozenset[str]:
        """Names *function* declares ``global`` (cached per function)."""
        if function is None:
            return frozenset()
        cached = self._globals.get(function)
        if cached is None:
            cached = frozenset(
                name
                for node in self.own[function]
                if isinstance(node, ast.Global)
                for name in node.names
            )
            self._globals[function] = cached
        return cached

    def under_main_guard(self, node: ast.AST) -> bool:
        """Whether *node* is inside ``if __name__ == "__main__":`` (runs only as a script)."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, ast.If) and _is_main_test(current.test):
                return True
            current = self.parents.get(current)
        return False

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
                return self.resolve_function(self.imports[func.id])
            return (self.module, func.id) if func.id in self.defs else None
        if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
            return None
        if func.value.id in ("self", "cls"):
            cls = self.enclosing_class(where)
            return (self.module, f"{cls.name}.{func.attr}") if cls else None
        if func.value.id in self.class_defs:
            return (self.module, f"{func.value.id}.{func.attr}")
        if func.value.id in self.imports:
            return self.resolve_function(f"{self.imports[func.value.id]}.{func.attr}")
        return None

    def resolve_module(self, name: str) -> str | None:
        """The key of the program module imported as *name* from here, if it is ours."""
        return self.facts.modules.resolve(self.root, name)

    def resolve_function(self, qualname: str) -> FunctionKey | None:
        """``pkg.mod.f`` or ``pkg.mod.Class.f`` → the function's key, when ``pkg.mod`` is ours."""
        parts = qualname.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = self.resolve_module(".".join(parts[:cut]))
            if module is not None:
                return (module, ".".join(parts[cut:]))
        return None

    def resolve_class(self, expr: ast.expr) -> FunctionKey | None:
        """``(module key, ClassName)`` when *expr* names a class of the program."""
        if isinstance(expr, ast.Name) and expr.id in self.class_defs:
            return (self.module, expr.id)
        qualname = self.qualname(expr)
        if qualname is None or qualname == dotted(expr):
            return None
        return self.resolve_function(qualname)


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.comparators) == 1):
        return False
    sides = [test.left, test.comparators[0]]
    names = [side for side in sides if isinstance(side, ast.Name) and side.id == "__name__"]
    main = [side for side in sides if isinstance(side, ast.Constant) and side.value == "__main__"]
    return bool(names and main)


def _body(node: ast.AST) -> set[int] | None:
    # The ids of the nodes that form a new scope's body; None for other nodes.
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {id(child) for child in node.body}
    if isinstance(node, ast.Lambda):
        return {id(node.body)}
    return None


def _imports(nodes: list[ast.AST], package: str) -> tuple[dict[str, str], set[str]]:
    # Imports anywhere in the file: a bot importing inside main() is common and
    # shadowing an imported name with a different meaning is rare. Relative imports
    # are made absolute against *package*, so that keys match the dotted module names.
    names: dict[str, str] = {}
    modules: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules.add(alias.name)
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".") if package else []
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join(part for part in (*anchor, base) if part)
            modules.add(base)
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                modules.add(full)
                names[alias.asname or alias.name] = full
    return names, modules


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


def node_line(node: ast.AST) -> int:
    """1-based line of *node*."""
    return int(getattr(node, "lineno", 1))


def node_col(node: ast.AST) -> int:
    """1-based column of *node*."""
    return int(getattr(node, "col_offset", 0)) + 1
