"""Find the fenced code blocks of the documentation and turn each into a runnable sample.

The conventions are documented at the top of ``test_samples.py``; this module only parses.
"""

from __future__ import annotations

import ast
import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w.+-]*)")
_DIRECTIVE = re.compile(r"^\s*<!--\s*sample:(?P<body>.*?)-->\s*$")
_INCLUDE = re.compile(r"^\s*--8<--\s+\"(?P<path>[^\"]+)\"\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, text and ``<!-- sample: ... -->``."""

    path: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    options: dict[str, list[str]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    def option(self, key: str, default: str | None = None) -> str | None:
        values = self.options.get(key)
        return values[-1] if values else default

    def values(self, key: str) -> list[str]:
        """Every value of *key*, comma-separated ones split."""
        return [v for raw in self.options.get(key, []) for v in raw.split(",") if v]


def parse_directive(body: str) -> dict[str, list[str]]:
    """``setup=a,b call=main expect="x y" run`` -> ``{"setup": ["a,b"], ..., "run": [""]}``."""
    options: dict[str, list[str]] = {}
    for word in shlex.split(body):
        key, _, value = word.partition("=")
        options.setdefault(key, []).append(value)
    return options


def blocks_in(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, and of the files it includes with ``--8<--``."""
    rel = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    directive: dict[str, list[str]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        include = _INCLUDE.match(line)
        if include:
            found += blocks_in(ROOT / include.group("path"))
        match = _DIRECTIVE.match(line)
        if match:
            directive = parse_directive(match.group("body"))
            i += 1
            continue
        opening = _FENCE_OPEN.match(line)
        if opening is None:
            if line.strip():
                directive = {}  # a directive applies only to the very next block
            i += 1
            continue
        indent, fence = opening.group("indent"), opening.group("fence")
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        body = [
            raw[len(indent) :] if raw.startswith(indent) else raw for raw in lines[i + 1 : end]
        ]
        body = [_expand(raw) for raw in body]
        found.append(
            Block(rel, i + 1, opening.group("lang").lower(), "\n".join(body) + "\n", directive)
        )
        directive = {}
        i = end + 1
    return found


def _expand(line: str) -> str:
    """A ``--8<-- "path"`` line inside a fence becomes the file, as pymdownx.snippets does."""
    include = _INCLUDE.match(line)
    if include is None:
        return line
    return (ROOT / include.group("path")).read_text(encoding="utf-8").rstrip("\n")


def all_blocks() -> list[Block]:
    """Every fenced block of ``docs/**/*.md`` and ``README.md``, in file order."""
    paths = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return [block for path in paths for block in blocks_in(path)]


def needs_event_loop(source: str) -> bool:
    """True when *source* uses ``await`` (or ``async for/with``) at the top level."""
    try:
        compile(source, "<sample>", "exec", flags=ast.PyCF_ONLY_AST)
        compile(source, "<sample>", "exec")
    except SyntaxError:
        compile(source, "<sample>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        return True
    return False


def wrap_in_asyncio_run(source: str) -> str:
    """Run a top-level-``await`` script as the body of ``asyncio.run(main())``."""
    body = textwrap.indent(source, "    ")
    return f"import asyncio\n\n\nasync def _sample() -> None:\n{body}\n\nasyncio.run(_sample())\n"


def defines_tests(source: str) -> bool:
    """True when *source* defines pytest test functions (``def test_*``)."""
    tree = ast.parse(source)
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
        for node in tree.body
    )


def calls_run_polling(source: str) -> bool:
    """True when *source* calls ``run_polling`` (a bot that serves until SIGTERM)."""
    tree = compile(
        source, "<sample>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "run_polling":
                return True
    return False
