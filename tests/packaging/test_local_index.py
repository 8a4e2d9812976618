"""A user's first install: ``pip install safe-polling`` from a package index, then the demo.

Our own sdist and wheel are built with ``python -m build``, put in a PEP 503 "simple" index
on disk and served by ``python -m http.server`` on 127.0.0.1: that index stands in for PyPI
for safe-polling, while its dependencies come from the real registries. The install goes
into a fresh virtual environment, and the offline demo then runs with that environment's
Python, importing the installed package (not ``src/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

import safe_polling

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


@pytest.fixture(scope="module")
def index_url(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A simple index holding our two files, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("index")
    project = root / "simple" / "safe-polling"
    project.mkdir(parents=True)
    links = []
    for built in sorted(dist.iterdir()):
        (project / built.name).write_bytes(built.read_bytes())
        links.append(f'<a href="{built.name}">{built.name}</a><br>')
    (project / "index.html").write_text("<html><body>" + "".join(links) + "</body></html>")
    (root / "simple" / "index.html").write_text('<a href="safe-polling/">safe-polling</a>')
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (...) ..."
        port = re.search(r"port (\d+)", line)
        assert port, line
        yield f"http://127.0.0.1:{port[1]}/simple/"
    finally:
        server.terminate()
        server.wait(10)


def test_sdist_and_wheel_pass_twine_check_strict(dist: Path) -> None:
    """PyPI renders the README (twine check --strict) and the sdist builds what we ship."""
    files = sorted(str(p) for p in dist.iterdir())
    version = safe_polling.__version__
    assert [Path(f).name for f in files] == [
        f"safe_polling-{version}-py3-none-any.whl",
        f"safe_polling-{version}.tar.gz",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(dist / f"safe_polling-{version}.tar.gz") as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "LICENSE", "src/safe_polling/__init__.py"} <= names


@pytest.mark.slow
def test_pip_install_from_an_index_then_the_offline_demo_runs(
    index_url: str, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    report = tmp_path / "report.json"
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--report",
            str(report),
            "--index-url",
            index_url,
            "--extra-index-url",
            "https://pypi.org/simple/",
            "safe-polling[testing]",
            "-r",
            str(ROOT / "examples" / "kie_bot" / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    installed = {
        item["metadata"]["name"]: item["download_info"]["url"]
        for item in json.loads(report.read_text())["install"]
    }
    assert installed["safe-polling"].startswith(index_url)  # ours, from the index
    assert installed["safe-polling"].endswith("-py3-none-any.whl")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFE_POLLING", "PYTHON"))}
    where = "import safe_polling; print(safe_polling.__version__, safe_polling.__file__)"
    probe = subprocess.run(
        [python, "-c", where],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert probe.stdout.split()[0] == safe_polling.__version__
    assert probe.stdout.split()[1].startswith(str(env_dir))

    # Its own process group: on a timeout the demo's children (fakes, bots) go with it.
    demo = subprocess.Popen(
        [python, str(ROOT / "examples" / "demo.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = demo.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait()
    assert demo.returncode == 0, out[-4000:] + err[-4000:]
    assert "demo finished: one poller at a time, a clean handover, no 409 Conflict" in out
