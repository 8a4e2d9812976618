"""The documentation site builds with ``mkdocs build --strict``, offline.

Strict mode turns every warning into a failure: a broken link between pages, a page
missing from the nav, a docstring that mkdocstrings cannot read (griffe warnings about
parameters), an include (``--8<--``) whose file is gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # Any attempt to reach the network fails fast instead of hanging or succeeding.
    env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("index.html", "quickstart/index.html", "api/db/index.html", "cli/index.html"):
        assert (site / page).is_file(), page
    api = (site / "api" / "safe_polling" / "index.html").read_text(encoding="utf-8")
    # The docstrings were read: run_polling's parameters are in the reference ...
    assert "shutdown_timeout" in api
    # ... and the Sphinx house style was translated, not shown raw.
    for raw in (":obj:`", ".. versionadded::", ".. code-block::"):
        assert raw not in api, raw
    html = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    assert "fonts.googleapis.com" not in html
