"""CI output of ``safe-polling lint``: SARIF 2.1.0, severities, --baseline, the pre-commit hook."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from safe_polling.lint import RULES, lint_main

from ._expect import SAMPLES

ROOT = Path(__file__).parents[2]
SLEEPY = "import time\n\n\nasync def handler() -> None:\n    time.sleep(1)\n"


def test_every_rule_has_a_severity() -> None:
    assert {rule.severity for rule in RULES.values()} <= {"error", "warning", "note"}
    assert RULES["SP101"].severity == "error"
    assert RULES["SP403"].severity == "warning"


def test_sarif_output_is_a_sarif_2_1_0_log(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # SARIF paths are relative to the checkout
    sample = SAMPLES / "bad" / "sp402_token.py"
    assert lint_main(["--format", "sarif", str(sample)]) == 1
    out = capsys.readouterr().out
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "safe-polling lint"
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == list(RULES)
    assert all(
        rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        for rule in driver["rules"]
    )
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["SP402", "SP402"]
    first = results[0]
    assert ids[first["ruleIndex"]] == "SP402"
    assert first["level"] == "error"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "tests/lint/samples/bad/sp402_token.py",
        "uriBaseId": "%SRCROOT%",
    }
    assert location["region"] == {"startLine": 3, "startColumn": 9}
    assert len(first["partialFingerprints"]["safePollingLint/v1"]) == 32
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX" not in out


def test_baseline_accepts_todays_findings_and_fails_on_new_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = tmp_path / "bot.py"
    bot.write_text(SLEEPY, encoding="utf-8")
    assert lint_main(["--format", "json", str(bot)]) == 1
    baseline = tmp_path / "baseline.json"
    baseline.write_text(capsys.readouterr().out, encoding="utf-8")
    # Code added above the accepted finding moves it; it stays accepted.
    bot.write_text("import os\n" + SLEEPY, encoding="utf-8")
    assert lint_main(["--baseline", str(baseline), str(bot)]) == 0
    assert "no problems (1 accepted by the baseline)" in capsys.readouterr().out
    # A new blocking call is new: reported alone, and the run fails.
    bot.write_text("import os\n" + SLEEPY + "    time.sleep(2)\n", encoding="utf-8")
    assert lint_main(["--baseline", str(baseline), str(bot)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1].split()[0] for line in lines[:-1]] == ["SP302"]
    assert ":7:5: SP302" in lines[0]
    assert lines[-1].endswith("(1 accepted by the baseline).")
    # A SARIF output works as a baseline too.
    assert lint_main(["--format", "sarif", str(bot)]) == 1
    baseline.write_text(capsys.readouterr().out, encoding="utf-8")
    assert lint_main(["--baseline", str(baseline), str(bot)]) == 0


@pytest.mark.parametrize("content", ["not json", '{"a": 1}', '[{"path": "x"}]'])
def test_unusable_baseline_is_a_usage_error(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(content, encoding="utf-8")
    bot = tmp_path / "bot.py"
    bot.write_text(SLEEPY, encoding="utf-8")
    assert lint_main(["--baseline", str(baseline), str(bot)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("safe-polling lint: error:")
    assert "baseline" in err
    assert len(err.splitlines()) == 1
    assert lint_main(["--baseline", str(tmp_path / "missing.json"), str(bot)]) == 2


def test_pre_commit_hook_runs_the_lint_command_once_over_the_repository() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert hook["id"] == "safe-polling-lint"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    command = shlex.split(hook["entry"])
    assert command == ["safe-polling", "lint"]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'safe-polling = "safe_polling._cli:main"' in pyproject
    # The hook's own arguments are valid for the command.
    assert lint_main(["--list-rules", *hook["args"]]) == 0
