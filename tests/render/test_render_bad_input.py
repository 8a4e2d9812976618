"""check-render gives findings, never a traceback or a runaway, whatever the file holds.

Before: ``type: [1, 2]`` raised TypeError (a list is unhashable), a file that is not
UTF-8 raised UnicodeDecodeError, and a 1.8 KB alias bomb took 34 s and 760 MB in the
preflight's worker thread, which its timeout cannot stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_polling._cli import main
from safe_polling._render import RenderFinding, check_render_yaml
from safe_polling._render_yaml import MAX_DEPTH, MAX_NODES, MAX_SIZE

yaml = pytest.importorskip("yaml")

SERVICE = """\
services:
  - type: worker
    name: bot
    runtime: python
    buildCommand: pip install .
    startCommand: python -m bot
    envVars:
      - key: TELEGRAM_BOT_TOKEN
        sync: false
"""


def errors(source: str | Path) -> list[str]:
    return [f.message for f in check_render_yaml(source) if f.is_error]


def test_the_base_service_is_valid() -> None:
    assert check_render_yaml(SERVICE) == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("type", "[1, 2]", "type: '[1, 2]' is not one of"),
        ("type", "{a: 1}", "type: '{'a': 1}' is not one of"),
        ("runtime", "[python]", "runtime: '['python']' is not one of"),
        ("autoDeployTrigger", "[commit]", "autoDeployTrigger: '['commit']' is not one of"),
        ("plan", "[free]", "plan: '['free']' is not a Render instance type"),
        ("maxShutdownDelaySeconds", "[1]", "maxShutdownDelaySeconds: [1] must be"),
    ],
)
def test_values_of_unexpected_types_are_findings(key: str, value: str, message: str) -> None:
    lines = [line for line in SERVICE.splitlines() if not line.endswith(f" {key}: python")]
    lines = [line.replace("type: worker", "name: bot") for line in lines]  # 'type' moves
    lines.insert(2, f"    {key}: {value}")
    text = "\n".join(lines) + "\n"
    assert yaml.safe_load(text)["services"][0][key] == yaml.safe_load(f"v: {value}")["v"]
    assert any(message in e for e in errors(text)), errors(text)


@pytest.mark.parametrize(
    "fragment",
    [
        "projects: 5\n",
        "projects: [{environments: 7}]\n",
        "envVarGroups: [{name: g, envVars: 3}]\n",
        "databases: [{name: [1], plan: x}]\n",
    ],
)
def test_lists_written_as_scalars_are_not_a_crash(fragment: str) -> None:
    assert isinstance(check_render_yaml(SERVICE + fragment), list)


def test_env_vars_and_references_of_unexpected_types(tmp_path: Path) -> None:
    text = SERVICE + (
        "      - key: DATABASE_URL\n        fromDatabase: {name: [x], property: [y]}\n"
        "      - fromGroup: [z]\n"
    )
    found = errors(text)
    assert any("fromDatabase '['x']' is not declared" in e for e in found), found


def test_file_that_is_not_utf8_is_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "render.yaml"
    path.write_bytes(SERVICE.encode() + b"# caf\xe9\n")
    assert errors(path) == [f"{path} is not UTF-8 text (byte 0xe9 at offset {len(SERVICE) + 5})"]


def test_file_larger_than_the_bound_is_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "render.yaml"
    path.write_text(SERVICE + "#" * MAX_SIZE + "\n")
    assert errors(path) == [f"{path} is larger than {MAX_SIZE} bytes"]


@pytest.mark.timeout(60)  # before the bound, this ran for minutes and took gigabytes
def test_alias_bomb_is_refused_before_it_is_expanded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = "\n".join(lines) + "\n" + SERVICE.replace("python -m bot", "*a8")
    assert len(bomb) < 2000
    found = check_render_yaml(bomb)
    assert [f.message for f in found] == [
        f"render.yaml expands to more than {MAX_NODES} nodes (YAML aliases)"
    ]
    assert found[0].line is not None


def test_self_referencing_alias_and_deep_nesting_are_findings() -> None:
    assert errors("a: &a [*a]\n") == ["render.yaml has an alias that contains itself"]
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    assert errors(deep) == [f"render.yaml is nested deeper than {MAX_DEPTH} levels"]


def test_an_int_python_cannot_build_is_a_finding() -> None:
    (message,) = errors("services: [{name: " + "9" * 5000 + "}]\n")
    assert message.startswith("render.yaml holds a value that cannot be read")


@pytest.mark.parametrize(
    "content", [b"services:\n  - type: [1,2]\n", b"\xff\xfe not text\n", b"a: &a [*a]\n"]
)
def test_check_render_command_prints_one_line_per_finding(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "render.yaml"
    path.write_bytes(content)
    assert main(["check-render", str(path)], env={}) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert out.out.splitlines()[-1] == f"❌ {path}: {out.out.count('❌') - 1} error(s)"


# -- generated input ---------------------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_KEYS = st.sampled_from(
    ["type", "name", "runtime", "plan", "envVars", "key", "value", "fromDatabase", "fromGroup",
     "property", "services", "databases", "envVarGroups", "projects", "environments",
     "startCommand", "buildCommand", "numInstances", "scaling", "maxInstances", "rootDir",
     "autoDeployTrigger", "maxShutdownDelaySeconds", "healthCheckPath", "image", "sync"]
) | st.text(max_size=10)  # fmt: skip
_VALUES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_generated_blueprint_gives_findings_not_exceptions(document: dict[str, Any]) -> None:
    text = yaml.safe_dump(document, allow_unicode=True) + "\n"
    findings = check_render_yaml(text)
    assert all(isinstance(f, RenderFinding) for f in findings)
    assert all(len(f.message) < 2000 for f in findings)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_gives_findings_not_exceptions(text: str) -> None:
    assert isinstance(check_render_yaml(text + "\n"), list)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_in_a_file_give_findings_not_exceptions(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("render") / "render.yaml"
    path.write_bytes(data)
    assert isinstance(check_render_yaml(path), list)
