"""Read a render.yaml within bounds: size, nesting and alias expansion, keeping line marks.

YAML aliases let 1.8 KB describe hundreds of millions of nodes ("billion laughs"):
PyYAML builds them as shared objects quickly, but the first ``str()`` of one
expands it all (34 s and 760 MB in the preflight's worker thread, which its
timeout cannot stop). So the document is first *composed* (a node graph where an
alias is a reference), its expanded size counted without expanding it, and only
a document within bounds is built into Python objects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SIZE",
    "BlueprintUnreadable",
    "LineMap",
    "RenderYamlUnavailable",
    "import_yaml",
    "load_blueprint",
    "read_blueprint",
]

MAX_SIZE = 1_000_000
"""The largest render.yaml read, in bytes (a real Blueprint is a few KB)."""

MAX_NODES = 100_000
"""The most YAML nodes a render.yaml may hold once its aliases are expanded."""

MAX_DEPTH = 64
"""The deepest nesting of mappings and lists accepted (Python builds nesting recursively)."""


class RenderYamlUnavailable(ImportError):
    """PyYAML is not installed; ``hint`` says how to get it.

    .. versionadded:: 0.1.0
    """

    hint = "pip install 'safe-polling[render]'"


class BlueprintUnreadable(ValueError):
    """The render.yaml cannot be read or parsed; the message says why in one line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def import_yaml() -> Any:
    """The ``yaml`` module, or :class:`RenderYamlUnavailable` naming the extra to install."""
    try:
        import yaml
    except ImportError:
        raise RenderYamlUnavailable(
            "PyYAML is needed to check render.yaml: pip install 'safe-polling[render]'"
        ) from None
    return yaml


def read_blueprint(source: str | os.PathLike[str]) -> str:
    """The YAML text: *source* itself when it is a str with a newline, else the file's text."""
    if isinstance(source, str) and "\n" in source:
        text = source
    else:
        path = os.fspath(source)
        try:
            with Path(path).open("rb") as file:
                raw = file.read(MAX_SIZE + 1)
        except OSError as exc:
            raise BlueprintUnreadable(f"cannot read {path}: {exc.strerror}") from None
        if len(raw) > MAX_SIZE:
            raise BlueprintUnreadable(f"{path} is larger than {MAX_SIZE} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BlueprintUnreadable(
                f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
            ) from None
    if len(text) > MAX_SIZE:
        raise BlueprintUnreadable(f"render.yaml text is larger than {MAX_SIZE} characters")
    return text


class LineMap(dict[Any, Any]):
    """A mapping that remembers the line of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]


def _line_loader(yaml: Any) -> Any:
    # libyaml's parser when PyYAML has it (about 10x faster); both keep node line marks.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc,valid-type]
        pass

    def construct(loader: Any, node: Any) -> LineMap:
        loader.flatten_mapping(node)
        mapping = LineMap(loader.construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
        return mapping

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct)
    return Loader


def _children(node: Any) -> list[Any]:
    value = node.value
    if not isinstance(value, list):  # a scalar
        return []
    if value and isinstance(value[0], tuple):  # a mapping: (key, value) pairs
        return [part for pair in value for part in pair]
    return value


def _check_bounds(root: Any) -> None:
    """Raise unless *root*, with every alias expanded, stays within the bounds.

    Each distinct node is visited once: its expanded size is the sum of its
    children's, memoised, so a bomb is measured without being expanded.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise BlueprintUnreadable(
                    f"render.yaml expands to more than {MAX_NODES} nodes (YAML aliases)",
                    node.start_mark.line + 1,
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise BlueprintUnreadable(
                "render.yaml has an alias that contains itself", node.start_mark.line + 1
            )
        if depth > MAX_DEPTH:
            raise BlueprintUnreadable(
                f"render.yaml is nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1
            )
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node))


def load_blueprint(text: str) -> Any:
    """The YAML document in *text* as Python objects (mappings as :class:`LineMap`).

    Raises:
        BlueprintUnreadable: A syntax error, or a document beyond the bounds.
        RenderYamlUnavailable: PyYAML is not installed.
    """
    yaml = import_yaml()
    loader = _line_loader(yaml)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_bounds(node)
        return loader.construct_document(node)
    except BlueprintUnreadable:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        at = f" at line {line}" if line else ""
        raise BlueprintUnreadable(f"YAML syntax error{at}: {problem}", line) from None
    except (ValueError, RecursionError) as exc:
        # A value Python refuses to build, e.g. an int of more than 4300 digits.
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise BlueprintUnreadable(
            f"render.yaml holds a value that cannot be read: {detail}"
        ) from None
    finally:
        loader.dispose()
