"""Read the ``# expect: SP101, SP201`` markers of the lint sample files."""

from __future__ import annotations

import re
from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"
_EXPECT_RE = re.compile(r"#\s*expect:\s*(?P<rules>SP\d{3}(?:\s*,\s*SP\d{3})*)")


def expected(root: Path) -> set[tuple[str, int, str]]:
    """``(path, line, rule)`` for every marker in *root* (a file or a directory)."""
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    found = set()
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            match = _EXPECT_RE.search(line)
            if match:
                for rule in match.group("rules").split(","):
                    found.add((str(file), number, rule.strip()))
    return found
