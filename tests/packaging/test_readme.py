"""The README renders on PyPI: absolute links, the set-up commands first, two badges at most."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# [text](target) and ![alt](target); reference-style links are not used.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_every_link_is_absolute() -> None:
    """PyPI shows the README without the repository: a relative link there is a 404."""
    targets = _LINK.findall(README)
    assert targets
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#"))]
    assert relative == []


def test_at_most_two_badges() -> None:
    assert 1 <= len(re.findall(r"\[!\[", README)) <= 2


def test_the_two_set_up_commands_are_the_first_commands() -> None:
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
