"""docs/lint.md: every rule has a section, and its bad and fixed fragments say the truth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from safe_polling.lint import RULES, lint_paths

DOC = Path(__file__).parents[2] / "docs" / "lint.md"
_EXAMPLE_RE = re.compile(
    r"<!-- lint-example: (?P<rule>SP\d{3}) (?P<kind>bad|fixed) -->\n```text\n(?P<code>.*?)```",
    re.DOTALL,
)
EXAMPLES = [
    (m.group("rule"), m.group("kind"), m.group("code"))
    for m in _EXAMPLE_RE.finditer(DOC.read_text(encoding="utf-8"))
]


def test_every_rule_has_a_section_with_a_bad_and_a_fixed_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"### {rule.id} {rule.name}\n" in text, rule.id
        if rule.id != "SP000":
            assert (rule.id, "bad") in {(r, k) for r, k, _ in EXAMPLES}, rule.id
            assert (rule.id, "fixed") in {(r, k) for r, k, _ in EXAMPLES}, rule.id


@pytest.mark.parametrize(
    ("rule", "kind", "code"), EXAMPLES, ids=[f"{r}-{k}" for r, k, _ in EXAMPLES]
)
def test_doc_example(tmp_path: Path, rule: str, kind: str, code: str) -> None:
    bot = tmp_path / "bot.py"
    bot.write_text(code, encoding="utf-8")
    found = {finding.rule for finding in lint_paths([bot], use_config=False)}
    if kind == "bad":
        assert rule in found
    else:
        assert found == set()
