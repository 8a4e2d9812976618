"""The program model: dotted module keys, one program per entry point, exclusive branches,
one finding per site and rule."""

from __future__ import annotations

from pathlib import Path

from safe_polling.lint import lint_paths

POLLER = """\
import os

from telegram.ext import Application


def main() -> None:
    application = Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"]).build()
    application.run_polling()


if __name__ == "__main__":
    main()
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _rules(*paths: Path) -> list[tuple[str, int, str]]:
    return [(Path(f.path).name, f.line, f.rule) for f in lint_paths(list(paths), use_config=False)]


def test_independent_scripts_in_one_folder_are_separate_programs(tmp_path: Path) -> None:
    for name in ("echobot", "timerbot", "pollbot"):
        _write(tmp_path / f"{name}.py", POLLER)
    assert _rules(tmp_path) == []


def test_a_script_importing_another_makes_one_program(tmp_path: Path) -> None:
    _write(tmp_path / "helper.py", POLLER)
    _write(
        tmp_path / "bot.py",
        "import helper\n\n\ndef run() -> None:\n    helper.main()\n\n\nrun()\nhelper.main()\n",
    )
    # main() is called from two places of one program: two pollers. helper's own
    # `if __name__ == "__main__"` block does not run when bot.py imports it.
    assert _rules(tmp_path) == [("bot.py", 9, "SP101")]


def test_modules_are_keyed_by_dotted_name_not_by_file_stem(tmp_path: Path) -> None:
    # An archived copy with the same stem is not the module bot.py imports.
    _write(tmp_path / "archive" / "main_render.py", POLLER)
    _write(tmp_path / "bot" / "__init__.py", "")
    _write(tmp_path / "bot" / "main_render.py", POLLER.split("\n\nif __name__")[0] + "\n")
    _write(
        tmp_path / "bot" / "__main__.py",
        "from bot.main_render import main\n\nif __name__ == '__main__':\n    main()\n",
    )
    assert _rules(tmp_path) == []


def test_relative_imports_resolve_inside_a_package(tmp_path: Path) -> None:
    _write(tmp_path / "pkg" / "__init__.py", "")
    _write(
        tmp_path / "pkg" / "db.py",
        "import sqlite3\n\n\ndef load() -> None:\n    sqlite3.connect('x').execute('select 1')\n",
    )
    _write(
        tmp_path / "pkg" / "handlers" / "__init__.py",
        "from ..db import load\n\n\nasync def handler() -> None:\n    load()\n",
    )
    assert _rules(tmp_path) == [("__init__.py", 5, "SP305")]


def test_mode_switch_branches_count_as_one_start(tmp_path: Path) -> None:
    _write(
        tmp_path / "bot.py",
        POLLER.replace(
            "    application.run_polling()\n",
            "    if os.environ.get('MODE') == 'webhook':\n"
            "        application.bot.set_webhook('https://example.com')\n"
            "        application.run_webhook(listen='0.0.0.0', port=8443)\n"
            "    else:\n"
            "        application.run_polling()\n",
        ),
    )
    assert _rules(tmp_path) == []
    # The same calls one after the other can both run.
    _write(
        tmp_path / "bot.py",
        POLLER.replace(
            "    application.run_polling()\n",
            "    application.run_webhook(listen='0.0.0.0', port=8443)\n"
            "    application.run_polling()\n",
        ),
    )
    assert _rules(tmp_path) == [("bot.py", 8, "SP401")]


def test_one_finding_per_site_and_rule(tmp_path: Path) -> None:
    # A start in a module imported by two entry points is reached from both programs.
    _write(
        tmp_path / "shared.py",
        "import safe_polling\n\n\ndef start(app: object) -> None:\n"
        "    safe_polling.run_polling(app)\n    safe_polling.run_polling(app)\n",
    )
    for name in ("a.py", "b.py"):
        _write(tmp_path / name, "from shared import start\n\nstart(None)\n")
    found = _rules(tmp_path)
    assert found == [("shared.py", 6, "SP101")]


def test_run_polling_in_a_sync_main_called_from_async_code(tmp_path: Path) -> None:
    bot = _write(tmp_path / "bot.py", POLLER)
    # A test that drives main() from an async test is not the bot running in a loop.
    _write(
        tmp_path / "test_bot.py",
        "from bot import main\n\n\nasync def test_main() -> None:\n    main()\n",
    )
    assert _rules(tmp_path) == []
    _write(
        tmp_path / "app.py", "from bot import main\n\n\nasync def boot() -> None:\n    main()\n"
    )
    assert _rules(tmp_path) == [("bot.py", 8, "SP104")]
    assert [f.rule for f in lint_paths([bot], use_config=False)] == []
