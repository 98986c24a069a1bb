"""Line-aware YAML loading.

PyYAML's node tree knows where every key and value starts; we keep those marks
beside the plain data so that a pydantic error location such as
``("options", 2)`` can be reported as ``file.yaml:14:5``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

try:  # The C loader is several times faster; fall back where libyaml is missing.
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

Loc = tuple[Any, ...]


@dataclass
class YamlFile:
    """Parsed YAML plus the 1-based line/column of every key and value."""

    path: Path
    display: str
    data: Any
    value_marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Loc, *, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column for a location, falling back to its nearest parent."""
        loc = tuple(loc)
        if key and loc in self.key_marks:
            return self.key_marks[loc]
        while loc:
            if loc in self.value_marks:
                return self.value_marks[loc]
            loc = loc[:-1]
        return self.value_marks.get((), (1, 1))

    def problem(self, loc: Loc, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(loc, key=key)
        return Problem(self.display, line, col, message)


def load_yaml(path: Path, display: str | None = None) -> tuple[YamlFile | None, list[Problem]]:
    """Load one YAML file; return it with its marks, or the problems found."""
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(display, None, None, f"not UTF-8 text ({exc.reason})")]
    except OSError as exc:
        return None, [Problem(display, None, None, f"cannot read: {exc.strerror}")]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlFile(path, display, None), []
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = exc.problem or "invalid YAML"
        if exc.context:
            msg = f"{msg} ({exc.context})"
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        return None, [Problem(display, line, col, f"YAML syntax error: {msg}")]
    except yaml.YAMLError as exc:
        return None, [Problem(display, None, None, f"YAML error: {exc}")]
    finally:
        loader.dispose()
    result = YamlFile(path, display, data)
    problems: list[Problem] = []
    _walk(node, (), result, problems)
    return result, problems


def _walk(node: yaml.Node, loc: Loc, out: YamlFile, problems: list[Problem]) -> None:
    out.value_marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        out.display,
                        line,
                        key_node.start_mark.column + 1,
                        f"duplicate key '{key}' (first on line {seen[key]}); remove one of them",
                    )
                )
            seen.setdefault(key, line)
            out.key_marks[loc + (key,)] = (line, key_node.start_mark.column + 1)
            _walk(value_node, loc + (key,), out, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, loc + (i,), out, problems)
