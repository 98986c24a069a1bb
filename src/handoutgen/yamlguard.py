"""A guard against YAML that would take a long-running server down.

The web app checks the workspace with it before loading (and each render
worker before reloading): aliases that expand to millions of values (a "YAML
bomb"), aliases that refer to themselves, and huge files are reported as
content problems with their file and line, so the page says what is wrong
while the server goes on serving. It complements the content loader's own
checks; running it twice costs one more parse of each file.
"""

from __future__ import annotations

from typing import Any

from .workspace import Workspace

MAX_YAML_VALUES = 1_000_000
MAX_YAML_BYTES = 5 * 1024 * 1024


def yaml_guard(workspace: Workspace) -> None:
    """Refuse YAML that would take the server down before the loader sees it:
    aliases that expand to millions of values (a "YAML bomb"), recursive
    aliases, huge files. The expanded size is counted once per node, so the
    check itself takes time in proportion to the file, not to its expansion."""
    import yaml

    from .errors import Problem, ValidationFailed
    from .workspace import display_path

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    problems: list[Problem] = []
    for path in sorted(workspace.handouts_dir.rglob("*.y*ml")):
        shown = display_path(path)
        try:
            if path.stat().st_size > MAX_YAML_BYTES:
                problems.append(Problem(shown, None, None, "larger than 5 MB; split it up"))
                continue
            nodes = list(yaml.compose_all(path.read_bytes(), Loader=loader))
        except (OSError, yaml.YAMLError, ValueError):
            continue  # the loader reports these with their line
        try:
            found = _too_big(nodes)
        except RecursionError:
            found = (None, "nested too deeply")
        if found:
            problems.append(Problem(shown, found[0], None, found[1]))
    if problems:
        raise ValidationFailed(problems)


class _Bomb(Exception):
    pass


def _too_big(nodes: list[Any]) -> tuple[int | None, str] | None:
    """(line, problem) if these YAML nodes expand past MAX_YAML_VALUES or refer to themselves."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in busy:
            raise _Bomb(node.start_mark.line + 1, "an alias refers to itself")
        busy.add(key)
        total = 1
        if isinstance(node.value, list):
            for item in node.value:
                for part in item if isinstance(item, tuple) else (item,):
                    total += size(part)
                    if total > MAX_YAML_VALUES:
                        raise _Bomb(
                            part.start_mark.line + 1,
                            f"aliases here expand to more than {MAX_YAML_VALUES:,} values "
                            "(a 'YAML bomb'?); write the values out instead",
                        )
        busy.discard(key)
        sizes[key] = total
        return total

    try:
        for node in nodes:
            if node is not None:
                size(node)
    except _Bomb as exc:
        return exc.args[0], exc.args[1]
    return None
