"""The finding and rule model, file walking, suppression comments, selection."""

from __future__ import annotations

import ast
import fnmatch
import io
import os
import re
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._context import ModuleContext, node_col, node_line

__all__ = ["SYNTAX_ERROR", "Finding", "Rule", "excluded", "iter_python_files"]

SKIP_DIRS = frozenset({".venv", "venv", "__pycache__", ".git", "node_modules", "build", "dist"})
_SUPPRESS_RE = re.compile(r"#\s*safe-polling:\s*ignore(?:\[(?P<rules>[^\]]*)\])?", re.IGNORECASE)
# A suppression with no rule list silences every rule on its line.
ALL_RULES = frozenset({"*"})


@dataclass(frozen=True, order=True)
class Finding:
    """One problem found by ``safe-polling lint``.

    Findings sort by path, line, column and rule, which is the order the
    command prints them in.

    Args:
        path (:obj:`str`): The file, as reached from the linted path.
        line (:obj:`int`): 1-based line.
        col (:obj:`int`): 1-based column.
        rule (:obj:`str`): The rule id, e.g. ``"SP301"``.
        message (:obj:`str`): One line: what is wrong and why it matters.
        fix (:obj:`str`): One line: what to do instead.
        fingerprint (:obj:`str`, optional): A hash of the rule, the path, the text of
            the line and its rank among identical lines: stable when code above moves,
            used by ``--baseline`` and SARIF. Not part of comparisons.

    Example:
        .. code-block:: python

            from safe_polling.lint import lint_paths

            for finding in lint_paths(["bot.py"]):
                print(finding.format())

    .. versionadded:: 0.1.0
    """

    path: str
    line: int
    col: int
    rule: str
    message: str
    fix: str
    fingerprint: str = field(default="", compare=False)

    def format(self) -> str:
        """``path:line:col: RULE message (fix: ...)``, the human output line.

        .. versionadded:: 0.1.0
        """
        return f"{self.path}:{self.line}:{self.col}: {self.rule} {self.message} (fix: {self.fix})"


@dataclass(frozen=True)
class Rule:
    """A lint rule's id, short name, one-line summary and default fix.

    Args:
        id (:obj:`str`): ``SP`` and three digits; the hundreds give the family.
        name (:obj:`str`): A short kebab-case name.
        summary (:obj:`str`): What the rule finds.
        fix (:obj:`str`): What to do instead.
        severity (:obj:`str`, optional): ``"error"`` (the bot breaks: 409 storm,
            frozen loop, dead polling), ``"warning"`` (it breaks under some
            conditions) or ``"note"``. Defaults to ``"error"``.

    .. versionadded:: 0.1.0
    """

    id: str
    name: str
    summary: str
    fix: str
    severity: str = "error"

    def at(
        self, ctx: ModuleContext, node: ast.AST, message: str, fix: str | None = None
    ) -> Finding:
        """A :class:`Finding` of this rule at *node* of *ctx*'s file.

        .. versionadded:: 0.1.0
        """
        return Finding(
            ctx.path,
            node_line(node),
            node_col(node),
            self.id,
            message,
            fix or self.fix,
        )


SYNTAX_ERROR = Rule(
    "SP000",
    "syntax-error",
    "the file cannot be parsed, so nothing else in it was checked",
    "make the file valid Python for the interpreter that runs the bot",
)


def iter_python_files(path: Path, exclude: Sequence[str] = ()) -> Iterator[Path]:
    """*path* itself if it is a file, else every ``*.py`` under it, skipping tool dirs.

    *exclude* are globs matched against each directory's and file's name and its path
    relative to *path* (``archive``, ``legacy/*``, ``*_old.py``).
    """
    if path.is_file():
        yield path
        return
    for root, dirs, files in os.walk(path):
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and not excluded(here / d, path, exclude)
        )
        for name in sorted(files):
            if name.endswith(".py") and not excluded(here / name, path, exclude):
                yield here / name


def excluded(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    """Whether *path* (under *root*) matches one of the ``--exclude`` globs."""
    if not patterns:
        return False
    relative = path.relative_to(root).as_posix()
    return any(
        fnmatch.fnmatchcase(path.name, pattern) or fnmatch.fnmatchcase(relative, pattern)
        for pattern in patterns
    )


def suppressions(source: str) -> dict[int, frozenset[str]]:
    """Line → rule ids silenced there by ``# safe-polling: ignore[...]`` (``{"*"}`` = all)."""
    result: dict[int, frozenset[str]] = {}
    if "safe-polling" not in source.lower():
        return result  # tokenizing is a tenth of the run; most files have no comment
    for line, comment in _comments(source):
        match = _SUPPRESS_RE.search(comment)
        if match is None:
            continue
        listed = match.group("rules")
        if listed is None:
            result[line] = ALL_RULES
        else:
            rules = frozenset(r.strip().upper() for r in listed.split(",") if r.strip())
            result[line] = result.get(line, frozenset()) | rules
    return result


def _comments(source: str) -> Iterator[tuple[int, str]]:
    # tokenize, so a '#' inside a string literal is not taken for a comment.
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string
    except (tokenize.TokenError, SyntaxError):
        return


def is_suppressed(finding: Finding, silenced: dict[int, frozenset[str]]) -> bool:
    """Whether a suppression comment on the finding's line covers its rule."""
    rules = silenced.get(finding.line)
    if not rules:
        return False
    return rules is ALL_RULES or "*" in rules or finding.rule in rules


def selected(rule: str, select: Sequence[str] | None, ignore: Sequence[str] | None) -> bool:
    """Whether *rule* passes ``--select``/``--ignore`` prefixes (SP000 ignores --select)."""
    if ignore and any(rule.startswith(prefix) for prefix in ignore):
        return False
    if not select or rule == SYNTAX_ERROR.id:
        return True
    return any(rule.startswith(prefix) for prefix in select)
