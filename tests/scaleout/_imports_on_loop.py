"""Runs the scale-out test bot, noting every module first imported while its loop runs.

An import on the event loop blocks it: redis.asyncio and asyncpg take 0.07-0.1 s. At
exit it prints ``imported on the loop: <names>`` for the modules of the drivers and of
safe_polling's backends that were imported there.
"""

from __future__ import annotations

import asyncio
import atexit
import runpy
import sys
from importlib.abc import MetaPathFinder
from pathlib import Path
from typing import Any

WATCHED = ("redis", "asyncpg", "safe_polling")
seen: list[str] = []


class NoteImportsOnTheLoop(MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] in WATCHED and asyncio.events._get_running_loop():
            seen.append(fullname)
        # None: the normal finders do the import


sys.meta_path.insert(0, NoteImportsOnTheLoop())
atexit.register(lambda: print(f"imported on the loop: {' '.join(seen)}", flush=True))
runpy.run_path(str(Path(__file__).with_name("_bot.py")), run_name="__main__")
