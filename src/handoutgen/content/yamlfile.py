"""Line-aware, bounded YAML loading.

PyYAML's node tree knows where every key and value starts; we keep those marks
beside the plain data so that a pydantic error location such as
``("options", 2)`` can be reported as ``file.yaml:14:5``.

Content files and recipient lists come from people who do not run handoutgen,
so every load is bounded *before* a single Python object is built: the event
stream (libyaml's parser is iterative) is scanned for nesting depth and for
how many nodes aliases would add once expanded. A billion-laughs file or
50,000 nested brackets is then an error at ``file:line`` in well under a
second, instead of exhausting memory or crashing the recursive composer.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handoutgen.core.errors import HandoutgenError, Problem

# The C loader is several times faster; fall back where libyaml is missing.
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)

Loc = tuple[Any, ...]

MAX_DEPTH = 64  # content needs about 6 levels, a recipient list 3
MAX_ALIAS_NODES = 100_000  # nodes that aliases may add in total, once expanded
MAX_BYTES = 4 * 1024 * 1024  # a content file is a few kilobytes


class YamlInputError(HandoutgenError):
    """A YAML text that cannot be read safely or at all; the message starts
    with ``source:line:column:``."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


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


def read_text_bounded(path: Path, display: str, max_bytes: int = MAX_BYTES) -> str:
    """A regular file's UTF-8 text, refusing devices, FIFOs and oversized files
    (a symlink to /dev/zero must not hang or fill memory)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise YamlInputError(Problem(display, None, None, "not a regular file"))
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise YamlInputError(Problem(display, None, None, f"cannot read: {exc.strerror}")) from None
    if len(raw) > max_bytes:
        raise YamlInputError(
            Problem(display, None, None, f"file is larger than {max_bytes // 1024} KiB")
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlInputError(
            Problem(display, None, None, f"not UTF-8 text ({exc.reason})")
        ) from None


def _mark_problem(source: str, mark: Any, message: str) -> Problem:
    if mark is None:
        return Problem(source, None, None, message)
    return Problem(source, mark.line + 1, mark.column + 1, message)


def check_limits(
    text: str,
    source: str,
    *,
    max_depth: int = MAX_DEPTH,
    max_alias_nodes: int = MAX_ALIAS_NODES,
) -> None:
    """Scan the event stream; raise :class:`YamlInputError` at the first event
    that nests too deep or makes aliases expand too far. Nothing is built."""
    loader = _Loader(text)
    stack: list[list[Any]] = []  # [expanded size, anchor] per open collection
    sizes: dict[str, int] = {}  # anchor -> expanded size of its finished node
    open_anchors: set[str] = set()
    added = 0
    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                stack.append([1, event.anchor])
                if event.anchor:
                    open_anchors.add(event.anchor)
                if len(stack) > max_depth:
                    raise YamlInputError(
                        _mark_problem(
                            source,
                            event.start_mark,
                            f"nested more than {max_depth} levels deep; content never needs "
                            "this many (is the file damaged or hostile?)",
                        )
                    )
                continue
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                size, anchor = stack.pop()
                if anchor:
                    sizes[anchor] = size
                    open_anchors.discard(anchor)
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                name = event.anchor
                if name in open_anchors:
                    raise YamlInputError(
                        _mark_problem(
                            source,
                            event.start_mark,
                            f"alias *{name} refers to the collection it is in (a loop)",
                        )
                    )
                if name not in sizes:
                    raise YamlInputError(
                        _mark_problem(source, event.start_mark, f"alias *{name} is not defined")
                    )
                size = sizes[name]
                added += size
                if added > max_alias_nodes:
                    raise YamlInputError(
                        _mark_problem(
                            source,
                            event.start_mark,
                            f"aliases expand to more than {max_alias_nodes:,} values (an alias "
                            "bomb?); write the values out or use fewer aliases",
                        )
                    )
            else:  # stream and document start/end
                continue
            if stack:
                stack[-1][0] += size
    except yaml.MarkedYAMLError as exc:
        raise YamlInputError(_syntax_problem(source, exc, text)) from None
    except yaml.YAMLError as exc:
        raise YamlInputError(Problem(source, None, None, f"YAML error: {exc}")) from None
    finally:
        loader.dispose()


def _syntax_problem(source: str, exc: yaml.MarkedYAMLError, text: str = "") -> Problem:
    """A syntax error at the line where the problem starts, in plain words.

    libyaml notices an unclosed quote or bracket only at the end of the file;
    the place that matters is where it was opened (``context_mark``)."""
    problem = exc.problem or "invalid YAML"
    at_end = exc.problem_mark is not None and exc.problem_mark.line >= len(text.splitlines())
    if exc.context_mark is not None and ("end of stream" in problem or at_end):
        what = {"quoted scalar": "a quote", "flow": "a bracket"}
        opened = next((w for k, w in what.items() if k in (exc.context or "")), "something")
        return _mark_problem(
            source,
            exc.context_mark,
            f"YAML syntax error: {opened} opened here is never closed; close it on this "
            "line, or quote the whole value",
        )
    mark = exc.problem_mark or exc.context_mark
    msg = problem
    if exc.context:
        msg = f"{msg} ({exc.context})"
    if problem.startswith("mapping values are not allowed") and mark is not None:
        lines = text.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        key, _, value = line.strip().partition(": ")
        value = value.strip().replace('"', '\\"')
        example = f'{key}: "{value}"' if key and value else 'key: "a value: with a colon"'
        msg = f"{msg}: a value that contains ': ' must be in quotes, like {example}"
    return _mark_problem(source, mark, f"YAML syntax error: {msg}")


def _compose(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Node tree and data, after the limits are checked."""
    check_limits(text, source)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        return node, loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise YamlInputError(_syntax_problem(source, exc, text)) from None
    except yaml.YAMLError as exc:
        raise YamlInputError(Problem(source, None, None, f"YAML error: {exc}")) from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise YamlInputError(Problem(source, None, None, "nested too deep")) from None
    finally:
        loader.dispose()


def load_bounded(text: str, source: str) -> Any:
    """Plain data from any YAML text (content, recipient lists), within the
    depth and alias limits; :class:`YamlInputError` otherwise."""
    return _compose(text, source)[1]


def load_yaml(path: Path, display: str | None = None) -> tuple[YamlFile | None, list[Problem]]:
    """Load one YAML file; return it with its marks, or the problems found."""
    display = display or str(path)
    try:
        text = read_text_bounded(path, display)
        node, data = _compose(text, display)
    except YamlInputError as exc:
        return None, [exc.problem]
    if node is None:
        return YamlFile(path, display, None), []
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
