"""``safe-polling lint`` as a command: output formats, exit codes, walking, config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from safe_polling.lint import lint_main, lint_paths

from ._expect import SAMPLES

SLEEPY = "import time\n\n\nasync def handler() -> None:\n    time.sleep(1){comment}\n"
KIE_BOT = Path(__file__).parents[2] / "examples" / "kie_bot"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_text_output_and_exit_code_on_findings(capsys: pytest.CaptureFixture[str]) -> None:
    sample = SAMPLES / "bad" / "sp302_sleep.py"
    assert lint_main([str(sample)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{sample}:8:5: SP302 `time.sleep()` blocks the event loop")
    assert "(fix: `await asyncio.sleep(seconds)`)" in lines[0]
    assert lines[1].startswith(f"{sample}:9:5: SP302")
    assert lines[-1] == "Found 2 problems in 1 of 1 checked file(s)."


def test_clean_exit_code_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_main([str(SAMPLES / "good")]) == 0  # independent scripts: one program each
    capsys.readouterr()
    assert lint_main([str(SAMPLES / "seed_bot_fixed")]) == 0
    assert capsys.readouterr().out.strip() == "All checks passed: 2 file(s) checked, no problems."


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    sample = SAMPLES / "bad" / "sp402_token.py"
    assert lint_main(["--format", "json", str(sample)]) == 1
    out = capsys.readouterr().out
    data = json.loads(out)
    assert [item["rule"] for item in data] == ["SP402", "SP402"]
    assert set(data[0]) == {
        "path",
        "line",
        "col",
        "rule",
        "severity",
        "message",
        "fix",
        "fingerprint",
    }
    assert data[0]["severity"] == "error"
    assert data[0]["path"] == str(sample)
    assert (data[0]["line"], data[0]["col"]) == (3, 9)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX" not in out


def test_json_output_when_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_main(["--format=json", str(SAMPLES / "seed_bot_fixed")]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--format", "xml", "bot.py"],
        ["--select", "XY1", "bot.py"],
        ["--no-such-option", "bot.py"],
        ["does/not/exist.py"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_help_and_rule_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_main(["--help"]) == 0
    assert "usage: safe-polling lint" in capsys.readouterr().out
    assert lint_main(["--list-rules"]) == 0
    listing = capsys.readouterr().out
    for rule in ("SP000", "SP101", "SP201", "SP301", "SP305", "SP401", "SP402"):
        assert rule in listing


def test_syntax_error_is_a_finding_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "broken.py", "def oops(:\n    pass\n")
    _write(tmp_path / "ok.py", SLEEPY.format(comment=""))
    assert lint_main([str(tmp_path), "--select", "SP3"]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'broken.py'}:1:10: SP000" in out
    assert f"{tmp_path / 'ok.py'}:5:5: SP302" in out  # the other file is still checked
    _write(tmp_path / "latin.py", "x = 1\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xff'\n")
    rules = [f.rule for f in lint_paths([tmp_path / "latin.py"])]
    assert rules == ["SP000"]


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("unary.py", "x = " + "-" * 100_000 + "1\n"),  # MemoryError in CPython's parser
        ("plus.py", "x = " + "+".join(["1"] * 200_000) + "\n"),  # RecursionError
        ("parens.py", "x = " + "(" * 5_000 + "1" + ")" * 5_000 + "\n"),
    ],
)
def test_pathological_file_is_unparseable_not_a_crash(
    tmp_path: Path, name: str, source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / name, source)
    _write(tmp_path / "ok.py", SLEEPY.format(comment=""))
    assert lint_main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'ok.py'}:5:5: SP302" in out  # the other file is still checked
    (line,) = [line for line in out.splitlines() if line.startswith(str(tmp_path / name))]
    assert ": SP000 " in line
    assert len(line) < 400  # one line, not the source echoed back


def test_suppression_comments(tmp_path: Path) -> None:
    bare = _write(tmp_path / "a.py", SLEEPY.format(comment=""))
    assert [f.rule for f in lint_paths([bare])] == ["SP302"]
    for comment in (
        "  # safe-polling: ignore[SP302]",
        "  # safe-polling: ignore[SP101, SP302]",
        "  # safe-polling: ignore",
        "  # noqa: E501  # safe-polling: ignore[sp302]",
    ):
        silenced = _write(tmp_path / "b.py", SLEEPY.format(comment=comment))
        assert lint_paths([silenced]) == [], comment
    other = _write(tmp_path / "c.py", SLEEPY.format(comment="  # safe-polling: ignore[SP301]"))
    assert [f.rule for f in lint_paths([other])] == ["SP302"]
    in_string = _write(tmp_path / "d.py", SLEEPY.format(comment="; x = '# safe-polling: ignore'"))
    assert [f.rule for f in lint_paths([in_string])] == ["SP302"]


def test_directory_walking_skips_tool_directories(tmp_path: Path) -> None:
    body = SLEEPY.format(comment="")
    _write(tmp_path / "bot" / "handlers" / "deep.py", body)
    _write(tmp_path / "bot" / "notes.txt", body)
    for skipped in (".venv", "venv", "__pycache__", ".git", "node_modules", "build", "dist"):
        _write(tmp_path / skipped / "lib.py", body)
        _write(tmp_path / "bot" / skipped / "lib.py", body)
    findings = lint_paths([tmp_path])
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in findings] == [
        "bot/handlers/deep.py"
    ]
    _write(tmp_path / "archive" / "old_bot.py", body)
    _write(tmp_path / "bot" / "legacy_old.py", body)
    kept = lint_paths([tmp_path], exclude=["archive", "*_old.py"])
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in kept] == [
        "bot/handlers/deep.py"
    ]
    assert len(lint_paths([tmp_path], exclude=["bot/handlers"])) == 2
    assert lint_main([str(tmp_path), "--exclude", "archive", "--exclude", "bot"]) == 0
    explicit = tmp_path / "venv" / "lib.py"  # a file named explicitly is linted
    assert [f.path for f in lint_paths([explicit])] == [str(explicit)]
    assert len(lint_paths([tmp_path, tmp_path / "bot"])) == 3  # each file once


def test_blocking_names_from_argv_and_pyproject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = _write(tmp_path / "app" / "bot.py", (SAMPLES / "configured" / "bot.py").read_text())
    assert lint_main([str(bot)]) == 0
    assert lint_main([str(bot), "--blocking-name", "get_user_balance"]) == 1
    assert ":9:15: SP305 `get_user_balance()`" in capsys.readouterr().out
    _write(
        tmp_path / "pyproject.toml",
        '[tool.safe-polling.lint]\nblocking-names = ["get_user_balance"]\n',
    )
    assert [f.line for f in lint_paths([bot])] == [9]
    assert lint_main([str(tmp_path / "app")]) == 1
    assert lint_main([str(bot), "--no-config"]) == 0
    capsys.readouterr()
    _write(tmp_path / "pyproject.toml", "[tool.safe-polling.lint]\nblocking-names = 'x'\n")
    assert lint_main([str(bot)]) == 2
    assert "blocking-names must be a list of strings" in capsys.readouterr().err
    _write(tmp_path / "pyproject.toml", "[tool.safe-polling.lint\n")
    with pytest.raises(ValueError, match="invalid TOML"):
        lint_paths([bot])


def test_python_dash_m_entry_point() -> None:
    sample = SAMPLES / "seed_bot_bad"
    result = subprocess.run(
        [sys.executable, "-m", "safe_polling.lint", "--select", "SP1", str(sample)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert [line.split(": ")[1].split()[0] for line in result.stdout.splitlines()[:-1]] == [
        "SP103",
        "SP101",
    ]
    clean = subprocess.run(
        [sys.executable, "-m", "safe_polling.lint", str(SAMPLES / "seed_bot_fixed")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert clean.returncode == 0, clean.stdout


def test_kie_bot_lints_clean() -> None:
    assert (KIE_BOT / "bot_kie.py").is_file()  # a moved bot must not make this test vacuous
    assert (KIE_BOT / "kie_bot" / "__init__.py").is_file()
    findings = lint_paths([KIE_BOT])
    assert findings == [], "\n".join(finding.format() for finding in findings)
