"""A griffe extension: read safe-polling's PTB-style docstrings for mkdocstrings.

The library documents itself in python-telegram-bot's house style: Google sections
(``Args:``, ``Returns:``) whose types and text use Sphinx roles (``:obj:`str```,
``:class:`~safe_polling.db.BalanceStore```) and directives (``.. versionadded::``,
``.. code-block:: python``, ``::`` literal blocks, simple tables). griffe's Google parser
splits ``name (:obj:`str`, optional): text`` at the first colon, so it misreads every
typed parameter, and Markdown shows the directives as plain text.

This extension rewrites each docstring *in the docs build only* (the source is untouched):
roles become inline code, directives become Markdown. It is loaded from ``mkdocs.yml`` by
path and runs offline.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

# :obj:`str`, :class:`~safe_polling.db.BalanceStore`, :meth:`BalanceStore.ledger` ...
_ROLE = re.compile(r":(?:obj|class|func|meth|mod|data|exc|attr|const|py:\w+):`(~?)([^`]+)`")
_DIRECTIVE = re.compile(r"^(\s*)\.\. (code-block|code|versionadded|versionchanged|note)::\s*(.*)$")
_TABLE_RULE = re.compile(r"^\s*=+(\s+=+)+\s*$")


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    if match.group(1):  # ~a.b.C shows as C, as in Sphinx
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _block(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The lines indented deeper than *indent* from *start* (blank lines kept inside)."""
    end = start
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end], end


def _fence(indent: str, body: list[str], language: str) -> list[str]:
    code = textwrap.dedent("\n".join(body)).splitlines()
    return ["", f"{indent}```{language}", *(indent + line for line in code), f"{indent}```", ""]


def _table(indent: str, rows: list[str]) -> list[str]:
    """A simple reST table (``=== ===`` rules) as a Markdown table."""
    rule = next(row for row in rows if _TABLE_RULE.match(row))
    spans = [m.span() for m in re.finditer(r"=+", rule)]

    def cells(row: str) -> list[str]:
        bounds = [*(s for s, _ in spans), len(row) + 1]
        return [row[bounds[i] : bounds[i + 1]].strip() for i in range(len(spans))]

    content = [cells(row) for row in rows if row.strip() and not _TABLE_RULE.match(row)]
    head, body = content[0], content[1:]
    out = [f"{indent}| {' | '.join(head)} |", f"{indent}|{'---|' * len(head)}"]
    return ["", *out, *(f"{indent}| {' | '.join(r)} |" for r in body), ""]


def convert(text: str) -> str:
    """Return *text* with Sphinx roles and directives turned into Markdown."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        if directive:
            indent, name, argument = directive.groups()
            body, i = _block(lines, i + 1, len(indent))
            if name in ("code-block", "code"):
                out += _fence(indent, body, argument or "python")
            elif name == "note":
                out += [f"{indent}Note: {argument}", *body]
            else:
                verb = "Added" if name == "versionadded" else "Changed"
                out += [f"{indent}*{verb} in version {argument}.*"]
            continue
        if _TABLE_RULE.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            rows = [line]
            i += 1
            rules = 1
            while i < len(lines) and rules < 3:
                rows.append(lines[i])
                rules += bool(_TABLE_RULE.match(lines[i]))
                i += 1
            out += _table(indent, rows)
            continue
        if line.rstrip().endswith("::") and not line.strip().startswith(".."):
            # "text::" then an indented literal block.
            indent = len(line) - len(line.lstrip())
            stripped = line.rstrip()[:-1]
            out.append(stripped if stripped.strip() != ":" else "")
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            body, i = _block(lines, j, indent)
            out += _fence(" " * indent, body, "python")
            continue
        out.append(line)
        i += 1
    return _ROLE.sub(_role, "\n".join(out))


class SphinxHouseStyle(griffe.Extension):
    """Rewrite every docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
