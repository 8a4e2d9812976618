"""Every code sample of the documentation runs, offline, against a fake Telegram.

Conventions (authors of ``docs/**/*.md`` and ``README.md``, read this):

* Every fenced ```` ```python ```` block is executed; none is skipped. A snippet that truly
  cannot run must not be a ``python`` block: use ``text`` and say so on the page.
* A block runs as a script (``python sample.py``) in a fresh temporary directory, in a
  subprocess with a timeout, with this environment (nothing else of the caller's
  ``TELEGRAM_*``, ``SAFE_POLLING_*``, ``DATABASE_URL``, ``REDIS_URL``, ``PORT``, ``KIE_*``):

  - ``TELEGRAM_BOT_TOKEN`` and ``BOT_TOKEN``: a fresh token, valid on the fake;
  - ``TELEGRAM_BASE_URL`` / ``TELEGRAM_BASE_FILE_URL``: a fake Bot API
    (``python -m safe_polling.testing``) started once for this module;
  - ``DATABASE_URL``: ``sqlite:///`` a file in the temporary directory;
  - ``SAFE_POLLING_LEASE_FILE``: a lock file in the temporary directory;
  - ``PYTHONPATH``: ``tests/docs/_shim``, whose ``sitecustomize.py`` makes every
    ``telegram.ext.ApplicationBuilder`` default its ``base_url``/``base_file_url`` to
    ``TELEGRAM_BASE_URL``, so samples written for the real Telegram run unchanged.

* The mode is chosen from the code (or forced with ``mode=``):

  - ``serve``: the code calls ``run_polling``; the runner waits for
    ``Polling started successfully`` in its output, checks that the fake saw getUpdates
    from it, sends SIGTERM and requires exit status 0;
  - ``pytest``: the code defines ``test_*`` functions; it is run by pytest with the
    ``safe_polling.testing.pytest_plugin`` fixtures and ``asyncio_mode=auto``, and must
    pass with at least one test;
  - ``script``: anything else; it must exit 0.

  In every mode a ``Traceback`` in the output fails the sample. Code with a top-level
  ``await`` is wrapped in ``asyncio.run``.

* A fragment declares what it needs in an HTML comment on the line right before the
  fence: ``<!-- sample: setup=application call=main -->``. Keys:

  - ``setup=NAME[,NAME]``: preludes from :data:`PRELUDES` prepended to the code;
  - ``call=main``: append a call of ``main()`` (awaited when it is ``async``);
  - ``mode=script|serve|pytest``; ``expect="text"``: the output must contain it;
  - ``lint=SP101,SP201`` (the lint must report at least these rules on the block) or
    ``lint=clean`` (no finding at all), checked besides running it.

* Other languages are not executed, except: a ``yaml`` block with a top-level ``services:``
  is a render.yaml and must pass :func:`safe_polling.check_render_yaml` with no error; a
  ``toml`` block must parse; a ``bash`` block marked ``<!-- sample: run -->`` is run with
  ``bash -eo pipefail`` in the same environment (``safe-polling`` on ``PATH``), and must
  exit 0 (or ``exit=N``) and print every ``expect=``.
* Blocks in files included with ``--8<-- "path"`` are collected too.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from _docs_samples import (
    ROOT,
    Block,
    all_blocks,
    calls_run_polling,
    defines_tests,
    needs_event_loop,
    wrap_in_asyncio_run,
)

from safe_polling import check_render_yaml
from safe_polling.lint import lint_paths
from safe_polling.testing import make_token

SHIM = Path(__file__).with_name("_shim")
READY = "Polling started successfully"
SCRIPT_TIMEOUT = 40.0
SERVE_TIMEOUT = 30.0

#: Preludes a fragment can ask for with ``setup=NAME``.
PRELUDES: dict[str, str] = {
    "token": 'import os\n\nTOKEN = os.environ["TELEGRAM_BOT_TOKEN"]\n',
    "application": (
        "import os\n\nfrom telegram.ext import ApplicationBuilder\n\n"
        'application = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()\n'
    ),
    # The default balance store of safe_polling.db, opened on DATABASE_URL.
    "store": (
        "from safe_polling.db import configure_default_store, open_balance_store\n\n"
        "configure_default_store(await open_balance_store())\n"
        "user_id = 42\n"
    ),
    # A bot.py in the old style (sync sqlite3 in async handlers), for the lint samples.
    "legacy_bot": (
        "import pathlib\n\n"
        "pathlib.Path('bot.py').write_text('''\n"
        "import sqlite3\n\n"
        "def get_user_balance(user_id):\n"
        "    with sqlite3.connect('bot.db') as conn:\n"
        "        return conn.execute('SELECT 1').fetchone()[0]\n\n"
        "async def balance(update, context):\n"
        "    credits = get_user_balance(update.effective_user.id)\n"
        "    await update.message.reply_text(str(credits))\n"
        "''')\n"
    ),
}

_DROP_ENV = ("TELEGRAM_", "SAFE_POLLING_", "KIE_", "BOT_TOKEN", "DATABASE_URL", "REDIS_URL")


BLOCKS = all_blocks()
PYTHON = [b for b in BLOCKS if b.lang in ("python", "py", "python3")]
RENDER_YAML = [b for b in BLOCKS if b.lang in ("yaml", "yml") and "\nservices:" in "\n" + b.text]
TOML = [b for b in BLOCKS if b.lang == "toml"]
BASH = [b for b in BLOCKS if b.lang in ("bash", "sh", "shell") and "run" in b.options]


# ---- the fake Telegram ------------------------------------------------------------------


class Fake:
    """A ``python -m safe_polling.testing`` process and its control API."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "safe_polling.testing", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = Lines(self.proc.stdout).next(20.0)
        if "listening on " not in line:
            self.close()
            raise RuntimeError(f"fake Bot API did not start: {line!r}")
        self.base_url = line.split("listening on ", 1)[1].strip()
        self.control = self.base_url.removesuffix("/bot") + "/_control"

    def get_updates_calls(self, token: str) -> int:
        stats = httpx.post(f"{self.control}/stats", json={}, timeout=5).json()
        return int(stats["tokens"].get(token, {}).get("get_updates_calls", 0))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Lines:
    """The lines a process writes, read by a thread: a wait never misses a line.

    ``select()`` on the pipe cannot see lines that ``readline()`` already pulled into
    Python's buffer, so under load (several lines in one read) a wait for the next line
    timed out although it had arrived, and a healthy bot looked hung after "Acquired the
    polling lease".
    """

    def __init__(self, stream: Iterable[str] | None) -> None:
        assert stream is not None
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Iterable[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put("")  # end of output

    def next(self, timeout: float) -> str:
        """The next line, or "" at the end of the output or after *timeout* seconds."""
        try:
            return self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return ""

    def rest(self, timeout: float) -> str:
        """Everything up to the end of the output (the process has exited)."""
        deadline = time.monotonic() + timeout
        lines = []
        while line := self.next(deadline - time.monotonic()):
            lines.append(line)
        return "".join(lines)


@pytest.fixture(scope="module")
def fake() -> Iterator[Fake]:
    server = Fake()
    try:
        yield server
    finally:
        server.close()


def sample_env(fake: Fake, tmp_path: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_ENV)}
    env.pop("PORT", None)
    env.update(
        TELEGRAM_BOT_TOKEN=token,
        BOT_TOKEN=token,
        TELEGRAM_BASE_URL=fake.base_url,
        TELEGRAM_BASE_FILE_URL=fake.base_url.removesuffix("/bot") + "/file/bot",
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        SAFE_POLLING_LEASE_FILE=str(tmp_path / "lease.lock"),
        PYTHONPATH=os.pathsep.join([str(SHIM), str(ROOT / "src")]),
        PYTHONUNBUFFERED="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


# ---- python blocks ----------------------------------------------------------------------


def assemble(block: Block) -> str:
    """The block with its preludes and epilogue, ready to run as a script."""
    parts = []
    for name in block.values("setup"):
        if name not in PRELUDES:
            pytest.fail(f"{block.id}: unknown setup={name!r}; known: {', '.join(PRELUDES)}")
        parts.append(PRELUDES[name])
    parts.append(block.text)
    if block.option("call"):
        name = block.option("call")
        parts.append(
            f"\nimport asyncio as _asyncio\n_result = {name}()\n"
            "if _asyncio.iscoroutine(_result):\n    _asyncio.run(_result)\n"
        )
    source = "\n".join(parts)
    return wrap_in_asyncio_run(source) if needs_event_loop(source) else source


def mode_of(block: Block, source: str) -> str:
    forced = block.option("mode")
    if forced:
        return forced
    if defines_tests(source):
        return "pytest"
    return "serve" if calls_run_polling(source) else "script"


def check_output(block: Block, output: str) -> None:
    assert "Traceback" not in output, f"{block.id} printed a traceback:\n{output}"
    for needle in block.options.get("expect", []):
        assert needle in output, f"{block.id}: {needle!r} not in output:\n{output}"


def run_script(block: Block, script: Path, env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            [sys.executable, script.name],
            cwd=script.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.id} did not finish within {SCRIPT_TIMEOUT} s: {exc.output!r}")
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{block.id} exited {done.returncode}:\n{output}"
    check_output(block, output)


def run_pytest(block: Block, script: Path, env: dict[str, str]) -> None:
    test_file = script.with_name("test_sample.py")
    script.rename(test_file)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "safe_polling.testing.pytest_plugin", "-o", "asyncio_mode=auto"]
    command += ["-o", "asyncio_default_fixture_loop_scope=function", test_file.name]
    done = subprocess.run(
        command, cwd=script.parent, env=env, capture_output=True, text=True, timeout=90
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{block.id}: pytest exited {done.returncode}:\n{output}"
    assert " passed" in output, f"{block.id}: no test ran:\n{output}"


def run_serving(block: Block, script: Path, env: dict[str, str], fake: Fake) -> None:
    proc = subprocess.Popen(
        [sys.executable, script.name],
        cwd=script.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    lines = Lines(proc.stdout)
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        while not any(READY in line for line in seen):
            line = lines.next(deadline - time.monotonic())
            if not line:
                pytest.fail(f"{block.id}: no {READY!r} (exit {proc.poll()}):\n{''.join(seen)}")
            seen.append(line)
        # It really polls the fake (with the token from the environment).
        deadline = time.monotonic() + 10
        while fake.get_updates_calls(env["TELEGRAM_BOT_TOKEN"]) == 0:
            assert time.monotonic() < deadline, f"{block.id}: no getUpdates reached the fake"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=SERVE_TIMEOUT)
        seen.append(lines.rest(timeout=10))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(seen)
    assert proc.returncode == 0, f"{block.id} exited {proc.returncode} on SIGTERM:\n{output}"
    check_output(block, output)


def check_lint(block: Block, tmp_path: Path) -> None:
    expected = block.values("lint")
    if not expected:
        return
    folder = tmp_path / "lint"
    folder.mkdir()
    (folder / "bot.py").write_text(block.text, encoding="utf-8")
    found = {finding.rule for finding in lint_paths([folder / "bot.py"], use_config=False)}
    if expected == ["clean"]:
        assert not found, f"{block.id}: the lint reports {sorted(found)}"
    else:
        missing = set(expected) - found
        assert not missing, f"{block.id}: the lint misses {sorted(missing)} (found {found})"


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_sample_runs(block: Block, fake: Fake, tmp_path: Path) -> None:
    check_lint(block, tmp_path)
    source = assemble(block)
    work = tmp_path / "work"
    work.mkdir()
    script = work / "sample.py"
    script.write_text(source, encoding="utf-8")
    env = sample_env(fake, tmp_path, make_token())
    mode = mode_of(block, source)
    if mode == "serve":
        run_serving(block, script, env, fake)
    elif mode == "pytest":
        run_pytest(block, script, env)
    elif mode == "script":
        run_script(block, script, env)
    else:
        pytest.fail(f"{block.id}: unknown mode={mode!r}")


# ---- other languages --------------------------------------------------------------------


@pytest.mark.parametrize("block", RENDER_YAML, ids=[b.id for b in RENDER_YAML])
def test_render_yaml_sample_is_valid(block: Block) -> None:
    errors = [f for f in check_render_yaml(block.text) if f.is_error]
    assert not errors, f"{block.id}: " + "; ".join(str(f) for f in errors)


@pytest.mark.parametrize("block", TOML, ids=[b.id for b in TOML])
def test_toml_sample_parses(block: Block) -> None:
    tomllib.loads(block.text)


@pytest.mark.parametrize("block", BASH, ids=[b.id for b in BASH])
def test_marked_bash_sample_runs(block: Block, fake: Fake, tmp_path: Path) -> None:
    env = sample_env(fake, tmp_path, make_token())
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", block.text],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    output = done.stdout + done.stderr
    expected_exit = int(block.option("exit", "0") or 0)
    assert done.returncode == expected_exit, f"{block.id} exited {done.returncode}:\n{output}"
    check_output(block, output)
    assert env["TELEGRAM_BOT_TOKEN"].split(":", 1)[1] not in output, "token in the output"


def test_every_python_block_is_collected() -> None:
    """The collector sees the docs (a broken fence regex would make this suite vacuous)."""
    files = {b.path for b in PYTHON}
    assert {"README.md", "docs/quickstart.md", "docs/testing.md"} <= files
    assert len(PYTHON) >= 15
