"""How long ``safe-polling lint`` takes on a large generated bot, against parsing alone.

Two generated inputs, written to a temporary directory:

- one module of ``--lines`` lines (default 30,000): classes whose ``__init__`` binds
  ``self.`` attributes (a ``threading.Lock``, a ``sqlite3`` connection), long sync helpers
  full of local assignments, async handlers calling them, ``global`` statements;
- a tree of ``--files`` files (default 800, ~290 lines each: 235k lines, more than the
  170k-line production bot of issue 14) in packages that import each other's helpers,
  with one ``__main__`` entry point.

For each input the run compares, side by side in the same process: ``ast.parse`` of every
file (the baseline: what any tool must pay) and the whole lint (``lint_paths``). It reports
wall and CPU seconds (on a shared machine the CPU time is the stable figure), the lint/parse
ratio of CPU time, and the peak resident memory of a child process that lints only that
input beside one that only parses it and keeps the trees (what any whole-program check
must hold). The module is also linted at 1/4 and 1/2 of its size, so the growth from
one size to the next is visible (2.0 per doubling is linear; 4.0 is quadratic).

Goals (issue 14): the 30k-line module in under 5 s and the 800-file tree in under 30 s.

    .venv/bin/python benchmarks/lint_bench.py [--lines 30000] [--files 800]

Runs in about 30 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safe_polling.lint import lint_paths

_HEADER = """\
import sqlite3
import threading
import time

from telegram.ext import ApplicationBuilder, CommandHandler

COUNTER = 0
"""

_CLASS = """\

class Repo{n}:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn = sqlite3.connect("bot{n}.db")
        self.cache = {{}}

    def get(self, key):
        with self.lock:
            return self.conn.execute("select 1").fetchone()
"""


def _helper(n: int, body_lines: int) -> str:
    lines = [f"\ndef helper_{n}(value):", "    global COUNTER", "    total = 0"]
    for i in range(body_lines):
        lines.append(f"    item_{i} = value + {i}")
        lines.append(f"    total = total + item_{i}")
    lines.append("    COUNTER = total")
    lines.append("    return total")
    return "\n".join(lines) + "\n"


_HANDLER = """\

async def handler_{n}(update, context):
    text = helper_{n}(1)
    repo = Repo{k}()
    await update.message.reply_text(str(text) + str(repo.get("x")))
"""


def module_source(lines: int) -> str:
    """A module of about *lines* lines: classes, long helpers, async handlers."""
    parts = [_HEADER]
    n = 0
    while sum(part.count("\n") for part in parts) < lines:
        parts.append(_CLASS.format(n=n))
        parts.append(_helper(n, 60))
        parts.append(_HANDLER.format(n=n, k=n))
        n += 1
    return "".join(parts)


def write_tree(root: Path, files: int) -> None:
    """*files* modules in packages of 20, each importing a helper of the previous one."""
    per_package = 20
    for i in range(files):
        package = root / "bigbot" / f"pkg{i // per_package}"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
        source = module_source(200)
        if i:
            prev = f"bigbot.pkg{(i - 1) // per_package}.mod{i - 1}"
            source = f"from {prev} import helper_0 as previous\n" + source
            source += "\n\nasync def chained(update, context):\n    previous(1)\n"
        (package / f"mod{i}.py").write_text(source, encoding="utf-8")
    (root / "bigbot" / "__init__.py").touch()
    (root / "bigbot" / "__main__.py").write_text(
        "from telegram.ext import ApplicationBuilder\n\n"
        "import bigbot.pkg0.mod0\n\n"
        "if __name__ == '__main__':\n"
        "    ApplicationBuilder().token('x').build().run_polling()\n",
        encoding="utf-8",
    )


def _parse_all(path: Path) -> tuple[float, float]:
    files = [path] if path.is_file() else sorted(path.rglob("*.py"))
    start, cpu = time.perf_counter(), time.process_time()
    for file in files:
        ast.parse(file.read_text(encoding="utf-8"))
    return time.perf_counter() - start, time.process_time() - cpu


def _lint(path: Path) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), time.process_time()
    findings = lint_paths([path], use_config=False)
    return time.perf_counter() - start, time.process_time() - cpu, len(findings)


_PARSE_ONLY = (
    "import ast, pathlib, resource, sys; from safe_polling.lint import lint_paths; "
    "p = pathlib.Path(sys.argv[1]); files = [p] if p.is_file() else sorted(p.rglob('*.py')); "
    "trees = [ast.parse(f.read_text(encoding='utf-8')) for f in files]; "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)
_LINT = (
    "import resource, sys; from safe_polling.lint import lint_paths; "
    "lint_paths([sys.argv[1]], use_config=False); "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def _peak_rss_mib(path: Path, code: str) -> float:
    # A child per figure, so each is that work's own peak (the parse-only child keeps
    # every tree, as the lint must).
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return int(out.stdout.strip()) / 1024


def _row(label: str, path: Path, lines: int, rss: tuple[float, float]) -> float:
    parse, parse_cpu = _parse_all(path)
    lint, lint_cpu, found = _lint(path)
    print(
        f"{label:<22} {lines:>8,} lines  parse {parse:5.2f} s ({parse_cpu:5.2f} CPU)  "
        f"lint {lint:6.2f} s ({lint_cpu:6.2f} CPU)  lint/parse CPU {lint_cpu / parse_cpu:4.1f}x  "
        f"peak RSS {rss[0]:4.0f} MiB (parse only {rss[1]:4.0f} MiB)  findings {found}"
    )
    return lint_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=30_000)
    parser.add_argument("--files", type=int, default=800)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs: list[tuple[str, Path]] = []
        for share in (4, 2, 1):
            module = root / f"big_{share}.py"
            module.write_text(module_source(args.lines // share), encoding="utf-8")
            inputs.append((f"one module (1/{share})", module))
        tree = root / "tree"
        write_tree(tree, args.files)
        inputs.append((f"tree of {args.files} files", tree))
        # Memory first, while this process is small: Linux reports a child's peak RSS as
        # at least the parent's RSS when it forked (ru_maxrss survives exec).
        peaks = [
            (_peak_rss_mib(path, _LINT), _peak_rss_mib(path, _PARSE_ONLY)) for _, path in inputs
        ]
        times = []
        for (label, path), rss in zip(inputs, peaks, strict=True):
            files = [path] if path.is_file() else sorted(path.rglob("*.py"))
            lines = sum(f.read_text(encoding="utf-8").count("\n") for f in files)
            times.append(_row(label, path, lines, rss))
        print(
            f"CPU growth per doubling of the module: {times[1] / times[0]:.1f}, "
            f"{times[2] / times[1]:.1f} (2.0 = linear, 4.0 = quadratic)"
        )


if __name__ == "__main__":
    main()
