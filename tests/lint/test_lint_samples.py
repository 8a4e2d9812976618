"""The rules on sample bots: every marked line is found, nothing else is."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_polling.lint import RULES, lint_paths

from ._expect import SAMPLES, expected

BAD = sorted((SAMPLES / "bad").iterdir())
GOOD = sorted((SAMPLES / "good").iterdir())


def _found(path: Path, **options: object) -> set[tuple[str, int, str]]:
    return {(f.path, f.line, f.rule) for f in lint_paths([path], **options)}  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", BAD, ids=lambda p: p.name)
def test_bad_sample_reports_exactly_the_marked_lines(sample: Path) -> None:
    assert expected(sample), "a bad sample must mark what it expects"
    assert _found(sample) == expected(sample)


@pytest.mark.parametrize("sample", GOOD, ids=lambda p: p.name)
def test_good_sample_lints_clean(sample: Path) -> None:
    assert lint_paths([sample]) == []


def test_bad_corpus_linted_at_once_reports_the_same_lines() -> None:
    # One run over every sample: each file or folder is its own program, so no sample
    # adds a finding to another one (no SP101 across independent scripts).
    assert _found(SAMPLES / "bad") == expected(SAMPLES / "bad")


def test_every_rule_has_a_bad_sample() -> None:
    marked = {rule for sample in BAD for (_, _, rule) in expected(sample)}
    assert set(RULES) - {"SP000"} <= marked


def test_seed_bot_reports_each_of_the_seeds_mistakes() -> None:
    sample = SAMPLES / "seed_bot_bad"
    findings = lint_paths([sample])
    assert {(f.path, f.line, f.rule) for f in findings} == expected(sample)
    by_rule = {f.rule: f for f in findings}
    # the restart from the error handler, through asyncio.create_task(start_bot(...))
    assert "start_bot" in by_rule["SP201"].message
    assert "new task" in by_rule["SP201"].message
    # the sync DB helper is traced into database.py
    assert "sqlite3.connect" in by_rule["SP305"].message
    assert "database.py" in by_rule["SP305"].message
    # the two start sites point at each other
    assert "bot_kie.py:" in by_rule["SP101"].message


def test_seed_bot_fixed_lints_clean() -> None:
    assert lint_paths([SAMPLES / "seed_bot_fixed"]) == []


def test_token_is_never_printed_in_full() -> None:
    token_secret = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"
    findings = lint_paths([SAMPLES / "bad" / "sp402_token.py"])
    assert [f.rule for f in findings] == ["SP402", "SP402"]
    assert "123456789:***" in findings[0].message
    for finding in findings:
        assert token_secret not in finding.message + finding.fix
        assert "AAE-abcdefghijklmnopqrstuv_012" not in finding.message + finding.fix


def test_configured_blocking_name_from_argument() -> None:
    sample = SAMPLES / "configured" / "bot.py"
    assert lint_paths([sample], use_config=False) == []
    findings = lint_paths([sample], blocking_names=["get_user_balance"], use_config=False)
    assert [(f.line, f.rule) for f in findings] == [
        (n, r) for (_, n, r) in sorted(expected(sample))
    ]
    assert "configured" in findings[0].message


def test_dotted_blocking_name_matches_the_module_too() -> None:
    sample = SAMPLES / "configured" / "bot.py"
    findings = lint_paths([sample], blocking_names=["legacy_db.get_user_balance"])
    assert {f.line for f in findings} == {line for (_, line, _) in expected(sample)}
    assert lint_paths([sample], blocking_names=["other_db.get_user_balance"]) == []


def test_select_and_ignore_prefixes() -> None:
    sample = SAMPLES / "seed_bot_bad"
    rules = {f.rule for f in lint_paths([sample], select=["SP2", "SP402"])}
    assert rules == {"SP201", "SP202", "SP402"}
    rules = {f.rule for f in lint_paths([sample], ignore=["SP3", "SP1"])}
    assert rules == {"SP201", "SP202", "SP402"}
    assert lint_paths([sample], select=["SP1"], ignore=["SP10"]) == []


def test_findings_are_sorted_and_formatted() -> None:
    findings = lint_paths([SAMPLES / "bad"])
    assert findings == sorted(findings)
    line = findings[0].format()
    assert line.startswith(f"{findings[0].path}:{findings[0].line}:{findings[0].col}: SP")
    assert line.endswith(f"(fix: {findings[0].fix})")


def test_secrets_are_never_printed() -> None:
    sample = SAMPLES / "bad" / "sp404_secrets.py"
    findings = lint_paths([sample])
    secrets = (
        "Abcdefghijklmnop",
        "abcdefghijklmnopq",
        "EfGhIjKlMn",
        "IOSFODNN7",
        "s3cr3t",
        "S3cret",
    )
    assert len(findings) == 6
    for finding in findings:
        assert not [s for s in secrets if s in finding.message + finding.fix]
    assert "Render API key (rnd_)" in findings[2].message


def test_connection_url_passwords_in_tests_are_fixtures_but_keys_are_not(tmp_path: Path) -> None:
    test = tmp_path / "test_urls.py"
    test.write_text(
        'URL = "postgres://bot:hunter2-secret@db:5432/bot"\n'
        'KEY = "rnd_AbCdEfGhIjKlMnOpQrStUvWx"\n',
        encoding="utf-8",
    )
    assert [(f.line, f.rule) for f in lint_paths([test])] == [(2, "SP404")]
