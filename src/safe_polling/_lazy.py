"""Names a package exports but imports on first use (PEP 562).

A bot pays for every module imported before its first getUpdates: the lease and queue
backends it does not use, the preflight's database drivers, the render.yaml checker
(benchmarks/startup_bench.py). A package lists such names here; type checkers and
readers still see them through the package's ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing ``names[name]`` (relative to *package*) on first use."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        vars(importlib.import_module(package))[name] = value  # once: later lookups are plain
        return value

    return __getattr__
