"""The wheel builds, carries the typed package, and installs into a fresh venv."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import safe_polling

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("safe_polling-*.whl")
    return built


def test_wheel_contains_the_typed_package_and_its_subpackages(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "safe_polling/__init__.py",
        "safe_polling/py.typed",
        "safe_polling/db/__init__.py",
        "safe_polling/lease/__init__.py",
        "safe_polling/testing/__init__.py",
        "safe_polling/lint/__init__.py",
    ):
        assert expected in names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: python-telegram-bot<23,>=22" in text
    assert "Provides-Extra: postgres" in text
    assert "Provides-Extra: metrics" in text
    # One version source: the metadata's version is safe_polling.__version__.
    assert f"\nVersion: {safe_polling.__version__}\n" in text
    assert wheel.name == f"safe_polling-{safe_polling.__version__}-py3-none-any.whl"
    assert (
        "safe-polling = safe_polling._cli:main"
        in zipfile.ZipFile(wheel).read(metadata.replace("METADATA", "entry_points.txt")).decode()
    )


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_imports(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=600,
    )
    probe = (
        "import safe_polling, safe_polling.db, safe_polling.lease;"
        "print(safe_polling.__version__, safe_polling.__file__)"
    )
    result = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    assert str(env_dir) in result.stdout
    cli = subprocess.run(
        [str(env_dir / "bin" / "safe-polling"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0
    assert "preflight" in cli.stdout
