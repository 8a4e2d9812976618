"""Point python-telegram-bot at the fake Bot API, for the documentation samples.

Put on ``PYTHONPATH`` by ``tests/docs/test_samples.py``. The samples are written for the
real Telegram (``ApplicationBuilder().token(TOKEN).build()``); with this shim every
``ApplicationBuilder`` starts with ``base_url``/``base_file_url`` taken from
``TELEGRAM_BASE_URL``/``TELEGRAM_BASE_FILE_URL``, so they run offline unchanged. A sample
that sets ``base_url`` itself still wins (the later call overrides).

The patch is applied lazily, when PTB's builder module is first imported, so processes
that never import PTB pay nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType
from typing import Any

_TARGET = "telegram.ext._applicationbuilder"


def _patch(module: ModuleType) -> None:
    builder = module.ApplicationBuilder
    original_init = builder.__init__

    def __init__(self: Any) -> None:
        original_init(self)
        base_url = os.environ.get("TELEGRAM_BASE_URL")
        if base_url:
            self.base_url(base_url)
            self.base_file_url(
                os.environ.get("TELEGRAM_BASE_FILE_URL")
                or base_url.removesuffix("/bot") + "/file/bot"
            )

    builder.__init__ = __init__


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != _TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


if os.environ.get("TELEGRAM_BASE_URL"):
    sys.meta_path.insert(0, _Finder())
