"""The product speaks of the failures it prevents, never of "the seed" it grew from."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# "seed" as our own shorthand for the incident log; "Seedream" (a KIE model) and a
# random seed (CHAOS_SEED) are other words.
SHORTHAND = re.compile(r"\bseed(?:'s|\s+bot)?\b(?!ream)", re.IGNORECASE)
ALLOWED = re.compile(r"CHAOS_SEED|random seed|seed=", re.IGNORECASE)
PLACES = ["src", "docs", "examples", "README.md", "CHANGELOG.md"]
TEXT = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".json"}


def _lines() -> list[tuple[str, int, str]]:
    found = []
    for place in PLACES:
        root = ROOT / place
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in files:
            if path.suffix not in TEXT or not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SHORTHAND.search(ALLOWED.sub("", line)):
                    found.append((str(path.relative_to(ROOT)), number, line.strip()))
    return found


def test_no_place_users_read_says_the_seed() -> None:
    assert _lines() == []


def test_the_check_sees_the_shorthand() -> None:
    assert SHORTHAND.search("as the seed did")
    assert SHORTHAND.search("The seed's bot")
    assert not SHORTHAND.search(ALLOWED.sub("", "Seedream 4.0, CHAOS_SEED=3"))
