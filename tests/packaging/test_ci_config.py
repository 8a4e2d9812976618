"""The CI, release and Read the Docs configurations match their platforms' schemas.

The schemas are SchemaStore's, vendored in the ``check-jsonschema`` package (a dev
dependency), so the check runs offline. The schemas cannot say what the project needs from
the files (which Pythons, which services, no token), so the tests below say it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def validate(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.github-workflows", WORKFLOWS / "ci.yml"),
        ("vendor.github-workflows", WORKFLOWS / "release.yml"),
        ("vendor.readthedocs", ROOT / ".readthedocs.yaml"),
    ],
)
def test_file_matches_its_platform_schema(schema: str, path: Path) -> None:
    done = validate(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("schema", "path", "breakage"),
    [
        ("vendor.github-workflows", "ci.yml", ("runs-on: ubuntu-latest", "runs_on: x")),
        ("vendor.readthedocs", ".readthedocs.yaml", ("version: 2", "version: 3")),
    ],
)
def test_the_schema_check_catches_a_broken_file(
    tmp_path: Path, schema: str, path: str, breakage: tuple[str, str]
) -> None:
    source = (WORKFLOWS / path) if path.endswith(".yml") else ROOT / path
    broken = tmp_path / source.name
    broken.write_text(source.read_text().replace(*breakage, 1), encoding="utf-8")
    assert validate(schema, broken).returncode != 0


def test_ci_runs_every_supported_python_with_real_services_and_the_lowest_versions() -> None:
    jobs = load(WORKFLOWS / "ci.yml")["jobs"]
    assert jobs["test"]["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
    classifiers = (ROOT / "pyproject.toml").read_text()
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    for name in ("test", "lowest-versions"):
        assert set(jobs[name]["services"]) == {"postgres", "redis"}
    assert {"lint", "docs"} <= set(jobs)
    steps = [step.get("run", "") for step in jobs["lowest-versions"]["steps"]]
    assert any("scripts/lowest-versions.sh" in run for run in steps)
    assert (ROOT / "scripts" / "lowest-versions.sh").is_file()


def test_release_publishes_with_trusted_publishing_and_no_token() -> None:
    text = (WORKFLOWS / "release.yml").read_text()
    release = load(WORKFLOWS / "release.yml")
    assert release[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key "on" as True
    publish = release["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    (upload,) = [s for s in publish["steps"] if "gh-action-pypi-publish" in s.get("uses", "")]
    assert "with" not in upload  # no password / api token
    assert "secrets." not in text
    assert "twine check --strict" in text
