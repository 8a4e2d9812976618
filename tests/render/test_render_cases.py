"""Each tests/render/cases/*.yaml gives the message its first line announces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from safe_polling._cli import main
from safe_polling._render import RenderFinding, check_render_yaml

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (?:(ok)|(error|warning) (\S+): (.*))$")


def _expectation(path: Path) -> tuple[str, str | None, str]:
    match = _EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name}: first line must be '# expect: ...'"
    if match.group(1):
        return "ok", None, ""
    key = None if match.group(3) == "None" else match.group(3)
    return match.group(2), key, match.group(4)


def test_there_are_enough_broken_cases() -> None:
    broken = [p for p in CASES if _expectation(p)[0] == "error"]
    assert len(broken) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_gives_its_message(path: Path) -> None:
    level, key, message = _expectation(path)
    findings = check_render_yaml(path)
    if level == "ok":
        assert findings == []
        return
    matching = [f for f in findings if f.level == level and message in f.message]
    assert matching, f"wanted {level} {message!r}, got {[str(f) for f in findings]}"
    finding = matching[0]
    assert finding.key == key
    assert finding.line is not None
    if key is not None:  # a service-level problem names its service
        assert "kie-ai-bot" in finding.message
    if level == "warning":  # a warning alone never makes the file invalid
        assert not any(f.is_error for f in findings)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_cli_exit_code_matches_case(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    level, _, message = _expectation(path)
    code = main(["check-render", str(path)])
    out = capsys.readouterr().out
    assert code == (1 if level == "error" else 0)
    assert message in out
    assert out.rstrip().splitlines()[-1].startswith("❌" if level == "error" else "✅")


def test_repository_render_yaml_is_valid() -> None:
    root = Path(__file__).parents[2]
    assert check_render_yaml(root / "render.yaml", require_env=["KIE_API_KEY"]) == []


def test_repository_render_yaml_deploys_the_example() -> None:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((Path(__file__).parents[2] / "render.yaml").read_text())
    (service,) = data["services"]
    assert service["type"] == "worker"
    assert service["name"] == "kie-ai-bot"
    assert service["rootDir"] == "examples/kie_bot"
    assert service["startCommand"] == "python bot_kie.py"
    assert "[postgres" in service["buildCommand"]
    assert service["autoDeployTrigger"] == "commit"
    assert service["plan"] == "starter"
    keys = {v["key"]: v for v in service["envVars"]}
    assert keys["TELEGRAM_BOT_TOKEN"]["sync"] is False
    assert keys["KIE_API_KEY"]["sync"] is False
    assert keys["DATABASE_URL"]["fromDatabase"]["name"] == data["databases"][0]["name"]


def test_required_env_is_enforced() -> None:
    text = (Path(__file__).parent / "cases" / "ok_web_binds_port.yaml").read_text()
    findings = check_render_yaml(text, require_env=["KIE_API_KEY"])
    assert [f.key for f in findings] == ["envVars"]
    assert "KIE_API_KEY is required but not declared" in findings[0].message


def test_text_and_path_sources_agree() -> None:
    path = Path(__file__).parent / "cases" / "err_free_worker.yaml"
    assert check_render_yaml(path.read_text()) == check_render_yaml(str(path))


def test_missing_file_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    (finding,) = check_render_yaml(tmp_path / "render.yaml")
    assert finding.is_error
    assert "cannot read" in finding.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("databases: []\n", "no services"),
        ("services:\n  - 42\n", "services[0] is not a mapping"),
        ("services: []\nservces: []\n", "did you mean 'services'?"),
    ],
)
def test_shape_errors(text: str, message: str) -> None:
    findings = check_render_yaml(text)
    assert any(message in f.message for f in findings), [str(f) for f in findings]


def test_webhook_bot_on_web_is_not_a_port_error() -> None:
    text = (Path(__file__).parent / "cases" / "err_web_no_port.yaml").read_text()
    text += "      - key: WEBHOOK_URL\n        value: https://example.invalid/hook\n"
    assert check_render_yaml(text) == []


def test_finding_str_and_dict() -> None:
    finding = RenderFinding("error", "service 'x': boom", "x", "type", 3)
    assert str(finding) == "error: line 3: service 'x': boom"
    assert finding.to_dict()["key"] == "type"
