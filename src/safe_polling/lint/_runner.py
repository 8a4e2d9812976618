"""Run every rule over a set of paths: parse, split into programs, analyse, filter findings."""

from __future__ import annotations

import ast
import io
import os
import tokenize
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import (
    _blocking_rules,
    _coroutine_rules,
    _error_handler_rules,
    _polling_rules,
    _secret_rules,
    _webhook_rules,
)
from ._context import ModuleContext, ProgramFacts, module_name
from ._engine import (
    SYNTAX_ERROR,
    Finding,
    Rule,
    is_suppressed,
    iter_python_files,
    selected,
    suppressions,
)
from ._graph import CallGraph
from ._output import fingerprinted

# Every rule, by id, in id order (the order of --list-rules and of SARIF's rule index).
RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in sorted(
        (
            SYNTAX_ERROR,
            *_polling_rules.RULES,
            *_error_handler_rules.RULES,
            *_blocking_rules.RULES,
            *_webhook_rules.RULES,
            *_secret_rules.RULES,
            *_coroutine_rules.RULES,
        ),
        key=lambda rule: rule.id,
    )
}
PathArg = str | os.PathLike[str]

__all__ = ["RULES", "lint_paths", "one_per_site", "programs", "run"]


def lint_paths(
    paths: Iterable[PathArg] | PathArg,
    *,
    blocking_names: Iterable[str] = (),
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    use_config: bool = True,
    exclude: Sequence[str] = (),
) -> list[Finding]:
    """Lint Python files and directories for the failure classes safe-polling fixes.

    Each module that no other linted module imports is a program, with the modules
    it imports (modules are keyed by their dotted name: packages are the folders
    with ``__init__.py``): polling started twice in one program is SP101, a
    folder of independent scripts is as many programs. Directories are walked for ``*.py``,
    skipping ``.venv``, ``venv``, ``__pycache__``, ``.git``, ``node_modules``,
    ``build`` and ``dist``. A file that does not parse yields one ``SP000``
    finding. Findings silenced by a ``# safe-polling: ignore[...]`` comment on
    their line are dropped.

    Args:
        paths: Files and directories to lint.
        blocking_names (Iterable[:obj:`str`], optional): Names of sync functions
            that block (``get_user_balance`` or ``db.get_user_balance``); a call of
            one inside ``async def`` is SP305. Added to the ``blocking-names`` of
            ``[tool.safe-polling.lint]`` in the nearest ``pyproject.toml``.
        select (Sequence[:obj:`str`], optional): Keep only rules starting with one
            of these prefixes (``["SP1", "SP301"]``). SP000 is always kept.
        ignore (Sequence[:obj:`str`], optional): Drop rules starting with one of
            these prefixes.
        use_config (:obj:`bool`, optional): Read ``pyproject.toml``. Defaults to
            :obj:`True`.
        exclude (Sequence[:obj:`str`], optional): Globs of directories and files not to
            walk (``archive``, ``legacy/*``, ``*_old.py``), matched against names and
            paths relative to each linted directory.

    Returns:
        list[:class:`Finding`]: Sorted by path, line, column and rule.

    Raises:
        FileNotFoundError: A path does not exist.
        ValueError: A ``pyproject.toml`` is invalid or its lint table is malformed.

    Example:
        .. code-block:: python

            from safe_polling.lint import lint_paths

            findings = lint_paths(["bot.py"], blocking_names=["get_user_balance"])
            assert not findings, "\\n".join(f.format() for f in findings)

    .. versionadded:: 0.1.0
    """
    return run(paths, blocking_names, select, ignore, use_config, exclude)[0]


def run(
    paths: Iterable[PathArg] | PathArg,
    blocking_names: Iterable[str],
    select: Sequence[str] | None,
    ignore: Sequence[str] | None,
    use_config: bool,
    exclude: Sequence[str] = (),
) -> tuple[list[Finding], int]:
    """:func:`lint_paths`, also returning how many files were checked."""
    roots = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"no such file or directory: {root}")
    names = set(blocking_names)
    if use_config:
        for root in roots:
            names.update(configured_blocking_names(root))
    facts = ProgramFacts(blocking_names=frozenset(names))
    files = _files(roots, exclude)
    findings: list[Finding] = []
    modules: list[ModuleContext] = []
    sources: dict[str, str] = {}
    for file in files:
        parsed = _parse(file)
        if isinstance(parsed, Finding):
            findings.append(parsed)
            continue
        source, tree = parsed
        sources[str(file)] = source
        key = facts.modules.add(*module_name(file.resolve()), str(file))
        modules.append(ModuleContext.build(str(file), tree, facts, key))
    findings.extend(_check(modules, facts))
    silenced = {path: suppressions(source) for path, source in sources.items()}
    kept = {
        finding
        for finding in findings
        if selected(finding.rule, select, ignore)
        and not is_suppressed(finding, silenced.get(finding.path, {}))
    }
    return fingerprinted(one_per_site(kept), sources), len(files)


def one_per_site(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted findings, one per (path, line, column, rule): the same start reached from two
    programs, or a call matched two ways, is one problem."""
    unique: dict[tuple[str, int, int, str], Finding] = {}
    for finding in sorted(findings):
        unique.setdefault((finding.path, finding.line, finding.col, finding.rule), finding)
    return list(unique.values())


def _files(roots: Sequence[Path], exclude: Sequence[str]) -> list[Path]:
    seen: set[Path] = set()
    files = []
    for root in roots:
        for file in iter_python_files(root, exclude):
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(file)
    return files


def _parse(file: Path) -> tuple[str, ast.Module] | Finding:
    try:
        data = file.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        source = data.decode(encoding)
        return source, ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        line, col = exc.lineno or 1, exc.offset or 1
        reason = exc.msg
    except (RecursionError, MemoryError):
        # 200k-term `1+1+...` or 100k unary minuses: CPython's parser gives up.
        line, col, reason = 1, 1, "too deeply nested for Python's parser"
    except (UnicodeDecodeError, ValueError, LookupError) as exc:
        line, col, reason = 1, 1, f"cannot decode the file ({type(exc).__name__})"
    except OSError as exc:
        line, col, reason = 1, 1, f"cannot read the file ({exc.strerror or type(exc).__name__})"
    message = f"{reason}; {SYNTAX_ERROR.summary}"
    return Finding(str(file), line, col, SYNTAX_ERROR.id, message, SYNTAX_ERROR.fix)


def _check(modules: Sequence[ModuleContext], facts: ProgramFacts) -> list[Finding]:
    graph = CallGraph(modules)
    program_modules = [ctx for ctx in modules if not ctx.is_test]
    facts.starters = _polling_rules.compute_starters(program_modules, graph)
    facts.coroutines = {key for key in graph.functions if graph.is_async(key)}
    analysis = _blocking_rules.BlockingAnalysis(graph)
    in_loop = graph.reachable_from_async()
    findings: list[Finding] = []
    for program in programs(program_modules):
        findings.extend(_polling_rules.check_program(program, facts.starters, graph))
        findings.extend(_webhook_rules.check_program(program, graph))
    for ctx in modules:
        try:
            findings.extend(_polling_rules.check_module(ctx, in_loop))
            findings.extend(_error_handler_rules.check_module(ctx))
            findings.extend(_blocking_rules.check_module(ctx, analysis))
            findings.extend(_coroutine_rules.check_module(ctx, graph))
            findings.extend(_secret_rules.check_module(ctx))
        except RecursionError:
            message = f"too deeply nested to check; {SYNTAX_ERROR.summary}"
            findings.append(Finding(ctx.path, 1, 1, SYNTAX_ERROR.id, message, SYNTAX_ERROR.fix))
    return findings


def programs(modules: Sequence[ModuleContext]) -> list[list[ModuleContext]]:
    """The programs among *modules*: each module no other one imports, with what it imports.

    The entry module comes first in each program.
    A folder of independent scripts is as many programs as scripts; a bot whose
    ``bot.py`` imports its handlers is one program. A module imported by two
    entry points belongs to both.
    """
    by_key = {ctx.module: ctx for ctx in modules}
    imports: dict[str, set[str]] = {}
    for ctx in modules:
        targets = {ctx.resolve_module(name) for name in ctx.imported_modules}
        imports[ctx.module] = {key for key in targets if key in by_key and key != ctx.module}
    imported = {key for targets in imports.values() for key in targets}
    roots = [ctx.module for ctx in modules if ctx.module not in imported]
    reached: set[str] = set()
    started: set[str] = set()
    result = []
    # Modules only reachable through an import cycle start a program of their own.
    for root in [*roots, *(ctx.module for ctx in modules)]:
        if root in started or (root in reached and root not in roots):
            continue
        started.add(root)
        members: list[str] = []
        queue = [root]
        while queue:
            key = queue.pop()
            if key in members:
                continue
            members.append(key)
            queue.extend(imports[key])
        reached.update(members)
        result.append([by_key[root], *(by_key[key] for key in sorted(members) if key != root)])
    return result


def nearest_pyproject(start: Path) -> Path | None:
    """The first ``pyproject.toml`` in *start* (a directory, or a file's directory) or above."""
    directory = start.resolve()
    if not directory.is_dir():
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            return pyproject
    return None


def configured_blocking_names(start: Path) -> list[str]:
    """``blocking-names`` of ``[tool.safe-polling.lint]`` in the nearest ``pyproject.toml``."""
    pyproject = nearest_pyproject(start)
    if pyproject is None:
        return []
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{pyproject}: invalid TOML ({exc})") from exc
    table = data.get("tool", {}).get("safe-polling", {}).get("lint", {})
    names = table.get("blocking-names", []) if isinstance(table, dict) else []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(
            f"{pyproject}: [tool.safe-polling.lint] blocking-names must be a list of strings"
        )
    return list(names)
