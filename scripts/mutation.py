"""Mutation testing of the modules behind the safety guarantees.

Each mutant is one small change to one module (a comparison flipped, a constant moved by
one, a statement deleted...), generated from the module's AST at run time, so the tool
follows the code as it changes. Every mutant runs in a copy of the working tree (the
files in the checkout are never touched) against that module's own test selection, with
a per-mutant timeout. A mutant is *killed* when the tests fail or time out, *survived*
when they pass, *equivalent* when ``scripts/mutation-equivalent.txt`` lists it with a
reason (a change no test can or should see, such as a pacing constant).

Mutants are named by a stable description, ``Function.name: change``, not by line
number, so the list of equivalents survives edits elsewhere in the module.

Each mutant costs one run of its module's tests: 30-75 s per run on a 2-core machine
shared with seven other test runs (the figures in docs/contributing.md), so all five
modules take hours there; ``--module``, ``--match`` and ``--shard`` cut it down. Not part
of CI. Run::

    bash scripts/mutation.sh                      # every module
    bash scripts/mutation.sh --module _gate.py    # one module
    bash scripts/mutation.sh --list               # print the mutants, run nothing
    bash scripts/mutation.sh --match fence        # only mutants whose description matches

Needs ``SAFE_POLLING_TEST_PG`` and ``SAFE_POLLING_TEST_REDIS`` like the tests. Exit status 0
when every module kills at least ``--goal`` (95%) of its non-equivalent mutants.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MODULES", "Mutant", "mutants_of"]

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = Path(__file__).with_name("mutation-equivalent.txt")

# Module (under src/safe_polling) -> the pytest arguments selecting the tests that guard
# it. Unit-level tests come first and ``-x`` stops at the first failure, so a killed mutant
# costs seconds. The code under mutation is shared by every database and lease backend, so
# the backend-parametrized tests run on SQLite and the file lease only: the PostgreSQL and
# Redis variants run the same lines, for twice the time per mutant.
_ONE_BACKEND = ["-k", "not postgres and not redis"]
MODULES: dict[str, list[str]] = {
    "_gate.py": [
        "tests/core/test_gate_fence.py",
        "tests/core/test_start_round_trips.py",
        "tests/metrics/test_metrics_unit.py",
    ],
    "_delivery.py": [
        "tests/delivery/test_tracker_offsets.py",
        "tests/delivery/test_claims.py",
        "tests/core/test_gate_fence.py",
        "tests/metrics/test_metrics_unit.py",
        *_ONE_BACKEND,
    ],
    "_redaction.py": ["tests/core/test_redaction.py", "tests/core/test_redaction_paths.py"],
    "db/_store.py": [
        "tests/db/test_store_contract.py",
        "tests/db/test_balances.py",
        "tests/db/test_schema_and_sql.py",
        "tests/db/test_urls.py",
        # Two races exist only on PostgreSQL (SQLite has one writer): a set racing a
        # credit (the row lock) and two calls with one idempotency key (the lost insert).
        "-k",
        "not postgres and not redis"
        " or concurrent_sets_and_adds or idempotent_replays_under_concurrency",
    ],
    "lease/_base.py": [
        "tests/lease/test_base.py",
        "tests/lease/test_common.py",
        "tests/lease/test_env.py",
        "tests/lease/test_file.py",
        *_ONE_BACKEND,
    ],
    "_ordering.py": ["tests/ordering/test_per_chat_processor.py"],
    # The queue contract runs over every backend (tests/queue/conftest.py): the shared code
    # and the in-process queue are guarded by the in-process runs, the Redis queue by the
    # Redis runs (the `redis` fixture id; test_env's Redis URL test names it too).
    "queue/_base.py": ["tests/queue", "-k", "not redis"],
    "queue/_memory.py": ["tests/queue", "-k", "not redis"],
    "queue/_redis.py": ["tests/queue", "-k", "redis"],
}
TIMEOUT = 300.0  # seconds per mutant; a hang counts as killed (the tests noticed)

_COMPARE_SWAPS: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
    ast.Lt: [ast.LtE, ast.GtE],
    ast.LtE: [ast.Lt, ast.Gt],
    ast.Gt: [ast.GtE, ast.LtE],
    ast.GtE: [ast.Gt, ast.Lt],
    ast.In: [ast.NotIn],
    ast.NotIn: [ast.In],
    ast.Is: [ast.IsNot],
    ast.IsNot: [ast.Is],
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_BOOL_SWAPS: dict[type[ast.boolop], type[ast.boolop]] = {ast.And: ast.Or, ast.Or: ast.And}
# Calls whose removal only changes a log line: not mutated (log text is tested where
# it matters, e.g. the fence's warning; mutating every log call would mostly add noise).
_LOG_RECEIVERS = {"logger", "_log", "_LOG", "log", "logging", "warnings"}


@dataclass
class Mutant:
    """One change to one module: where, what, and the mutated source."""

    module: str
    description: str
    source: str = field(repr=False)


def _describe(node: ast.AST) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= 70 else text[:67] + "..."


def _is_log_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in _LOG_RECEIVERS
    )


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


class _Finder(ast.NodeVisitor):
    """Walks a module and lists (path to node, description, replacement) for each mutant."""

    def __init__(self, context: dict[int, str]) -> None:
        self.context = context  # id(constant) -> the statement it appears in
        self.scope: list[str] = []
        self.found: list[tuple[str, ast.AST, ast.AST | None]] = []

    # -- scopes and what is never mutated ---------------------------------------------
    def _scoped(self, node: ast.AST, name: str) -> None:
        self.scope.append(name)
        for child in ast.iter_child_nodes(node):
            if child in getattr(node, "decorator_list", []):
                continue
            if isinstance(child, ast.arguments) or child is getattr(node, "returns", None):
                continue  # signatures and annotations: defaults are visited below
            self.visit(child)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self.visit(default)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node, node.name)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node, node.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        targets = [ast.unparse(t) for t in node.targets]
        if targets == ["__all__"]:
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        return

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        return

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # message text

    def _add(self, what: str, node: ast.AST, replacement: ast.AST | None) -> None:
        where = ".".join(self.scope) or "<module>"
        self.found.append((f"{where}: {what}", node, replacement))

    # -- statements ---------------------------------------------------------------------
    def generic_visit(self, node: ast.AST) -> None:
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self._statements(value)
                for item in value:
                    if not (_is_log_call(item) or _is_docstring(item) or _is_type_checking(item)):
                        self.visit(item)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)
            del name

    def _statements(self, body: list[ast.stmt]) -> None:
        if not self.scope:
            return  # module level: definitions, constants (mutated as expressions)
        for stmt in body:
            deletable = isinstance(stmt, ast.Expr | ast.Assign | ast.AugAssign | ast.Return)
            if isinstance(stmt, ast.Expr) and (_is_docstring(stmt) or _is_log_call(stmt)):
                deletable = False
            if isinstance(stmt, ast.Return) and stmt.value is None:
                deletable = False
            if deletable:
                self._add(f"delete `{_describe(stmt)}`", stmt, ast.Pass())

    # -- expressions --------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            for swap in _COMPARE_SWAPS.get(type(op), []):
                new = copy.deepcopy(node)
                new.ops[i] = swap()
                self._add(f"`{_describe(node)}` -> `{_describe(new)}`", node, new)
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        new = copy.deepcopy(node)
        new.op = _BOOL_SWAPS[type(node.op)]()
        self._add(f"`{_describe(node)}` -> `{_describe(new)}`", node, new)
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self._add(f"drop `not` in `{_describe(node)}`", node, node.operand)
        self.generic_visit(node)

    def _swap_operator(self, node: ast.BinOp | ast.AugAssign) -> None:
        swap = _BINOP_SWAPS.get(type(node.op))
        if swap is not None:
            new = copy.deepcopy(node)
            new.op = swap()
            self._add(f"`{_describe(node)}` -> `{_describe(new)}`", node, new)
        self.generic_visit(node)

    visit_BinOp = _swap_operator
    visit_AugAssign = _swap_operator

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            return
        new_test = ast.UnaryOp(op=ast.Not(), operand=copy.deepcopy(node.test))
        self._add(f"negate `if {_describe(node.test)}`", node.test, new_test)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            new: bool | int | float = not value
        elif isinstance(value, int):
            new = value + 1
        elif isinstance(value, float):
            new = value * 2 if value else 1.0
        else:
            return  # strings (messages, SQL text) and None are left alone
        where = self.context.get(id(node), "")
        self._add(f"`{value!r}` -> `{new!r}` in `{where}`", node, ast.Constant(new))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in _LOG_RECEIVERS
        ):
            return
        self.generic_visit(node)


def _statement_context(tree: ast.AST) -> dict[int, str]:
    """For each constant, the innermost statement (or condition) it appears in."""
    context: dict[int, str] = {}
    for stmt in ast.walk(tree):  # outer statements first: inner ones overwrite them
        if isinstance(stmt, ast.If | ast.While):
            part: ast.AST = stmt.test
        elif isinstance(stmt, ast.stmt) and not isinstance(
            stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            part = stmt
        else:
            continue
        text = _describe(part)
        for sub in ast.walk(part):
            if isinstance(sub, ast.Constant):
                context[id(sub)] = text
    return context


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST) -> None:
        self.target = target
        self.replacement = replacement

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return ast.copy_location(self.replacement, node)
        result: ast.AST = super().visit(node)
        return result


def mutants_of(module: str, source: str) -> Iterator[Mutant]:
    """Every mutant of *module* (a path under ``src/safe_polling``), named stably."""
    tree = ast.parse(source)
    finder = _Finder(_statement_context(tree))
    finder.visit(tree)
    seen: dict[str, int] = {}
    for description, target, replacement in finder.found:
        seen[description] = seen.get(description, 0) + 1
        name = description if seen[description] == 1 else f"{description} #{seen[description]}"
        yield Mutant(module, name, _mutate(tree, target, replacement))


def _mutate(tree: ast.Module, target: ast.AST, replacement: ast.AST | None) -> str:
    """The module's source with *target* replaced (the original tree is left alone)."""
    # A deep copy has new node objects: find the target by its place in the walk order.
    index = next(i for i, node in enumerate(ast.walk(tree)) if node is target)
    clone = copy.deepcopy(tree)
    clone_target = next(node for i, node in enumerate(ast.walk(clone)) if i == index)
    new = _Replace(clone_target, copy.deepcopy(replacement or ast.Pass())).visit(clone)
    return ast.unparse(ast.fix_missing_locations(new))


def load_equivalents(path: Path = EQUIVALENT_FILE) -> dict[tuple[str, str], str]:
    """``(module, description) -> reason`` from the equivalents file."""
    found: dict[tuple[str, str], str] = {}
    if not path.exists():
        return found
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        module, description, reason = (part.strip() for part in raw.split(" | ", 2))
        found[(module, description)] = reason
    return found


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "site", "*.pyc", ".ruff_cache")
    for name in ("src", "tests", "examples", "benchmarks"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml",):
        shutil.copy2(ROOT / name, dest / name)


def _run_tests(tree: Path, tests: list[str], timeout: float) -> tuple[str, float]:
    """Run *tests* in *tree*: ("passed" | "failed" | "timeout", seconds)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tree / "src"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONDONTWRITEBYTECODE": "1",  # no stale bytecode between two mutants
    }
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            command, cwd=tree, env=env, timeout=timeout, capture_output=True, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    # pytest: 0 passed, 1 tests failed, 2 interrupted (a mutant that breaks the import
    # stops collection); 3-5 are pytest's own or usage errors, which prove nothing.
    verdict = {0: "passed", 1: "failed", 2: "failed"}.get(proc.returncode, "error")
    return verdict, time.monotonic() - started


def _without_name_filter(selection: list[str]) -> list[str]:
    """*selection* without its ``-k`` expression: every backend's variant of each test."""
    kept: list[str] = []
    skip = False
    for arg in selection:
        if arg == "-k":
            skip = True
        elif skip:
            skip = False
        else:
            kept.append(arg)
    return kept


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: the copy of the tree is removed


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES))
    parser.add_argument(
        "--match", action="append", default=[], help="only mutants whose description has this"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    parser.add_argument("--goal", type=float, default=95.0)
    parser.add_argument(
        "--all-backends",
        action="store_true",
        help="drop the -k selection: also the PostgreSQL and Redis variants (and, for a"
        " queue module, the other backend's)",
    )
    parser.add_argument(
        "--shard", default="1/1", help="run only the i-th of n interleaved shares, e.g. 2/3"
    )
    args = parser.parse_args()
    shard, shards = (int(n) for n in args.shard.split("/"))
    equivalents = load_equivalents()
    modules = args.module or list(MODULES)
    ok = True
    with tempfile.TemporaryDirectory(prefix="safe-polling-mutation-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        for module in modules:
            target = tree / "src" / "safe_polling" / module
            original = target.read_text(encoding="utf-8")
            mutants = [
                m
                for m in mutants_of(module, original)
                if not args.match or any(text in m.description for text in args.match)
            ]
            mutants = mutants[shard - 1 :: shards]
            known = {d for (mod, d) in equivalents if mod == module}
            stale = sorted(known - {m.description for m in mutants_of(module, original)})
            if args.list:
                for m in mutants:
                    mark = "  (equivalent)" if m.description in known else ""
                    print(f"{module} | {m.description}{mark}")
                continue
            # The tests must pass on the unmutated (re-printed) module first.
            target.write_text(ast.unparse(ast.parse(original)), encoding="utf-8")
            selection = MODULES[module]
            if args.all_backends:
                selection = _without_name_filter(selection)
            verdict, seconds = _run_tests(tree, selection, args.timeout)
            if verdict != "passed":
                print(f"{module}: tests do not pass on the unmutated module ({verdict})")
                target.write_text(original, encoding="utf-8")
                return 2
            print(f"{module}: {len(mutants)} mutants, baseline {seconds:.1f}s", flush=True)
            killed, equivalent = 0, 0
            survived: list[str] = []
            errors: list[str] = []
            try:
                for n, mutant in enumerate(mutants, 1):
                    if mutant.description in known:
                        equivalent += 1
                        continue
                    target.write_text(mutant.source, encoding="utf-8")
                    verdict, seconds = _run_tests(tree, selection, args.timeout)
                    if verdict == "error":
                        errors.append(mutant.description)
                    elif verdict == "passed":
                        survived.append(mutant.description)
                    else:
                        killed += 1
                    progress = f"[{n}/{len(mutants)}] {verdict:7} {seconds:5.1f}s"
                    print(f"  {progress}  {mutant.description}", flush=True)
            finally:
                target.write_text(original, encoding="utf-8")
            live = killed + len(survived)
            score = 100.0 * killed / live if live else 100.0
            ok = ok and score >= args.goal
            print(
                f"{module}: killed {killed} / survived {len(survived)} / equivalent {equivalent}"
                f" -> {score:.1f}% of non-equivalent killed",
                flush=True,
            )
            for description in survived:
                print(f"  SURVIVED {module} | {description}")
            for description in errors:
                ok = False
                print(f"  ERROR (pytest could not run; not counted) {module} | {description}")
            for description in stale:
                print(f"  (no longer generated, remove from the equivalents file: {description})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
