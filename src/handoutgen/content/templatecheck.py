"""Template mistakes Jinja lets pass silently, found before anything renders.

A child template's ``{% block name %}`` that no template it extends defines is
never shown: Jinja ignores it without a word. ``handoutgen validate`` (and every
render, which loads the content first) reports it at its file and line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import jinja2
from jinja2 import nodes

from handoutgen.content.templating import environment
from handoutgen.content.workspace import display_path
from handoutgen.core.errors import Problem

# Parsed templates by file and text: every content load checks the blocks, and
# parsing is most of that work (reading the file is not).
_TREES: dict[tuple[str, str], nodes.Template] = {}


def _parse(env: jinja2.Environment, name: str) -> tuple[nodes.Template, str]:
    assert env.loader is not None
    source, filename, _ = env.loader.get_source(env, name)
    key = (filename or name, hashlib.sha256(source.encode("utf-8")).hexdigest())
    tree = _TREES.get(key)
    if tree is None:
        tree = env.parse(source, name, filename)
        if len(_TREES) >= 64:
            _TREES.clear()
        _TREES[key] = tree
    return tree, display_path(Path(filename or name))


def _top_blocks(node: nodes.Node) -> Iterator[nodes.Block]:
    """Blocks not inside another block: the ones a child template overrides."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            yield child
        else:
            yield from _top_blocks(child)


def _parent(tree: nodes.Template) -> str | None:
    extends = tree.find(nodes.Extends)
    if extends is not None and isinstance(extends.template, nodes.Const):
        return str(extends.template.value)
    return None


def block_problems(template_dirs: list[Path], name: str) -> list[Problem]:
    """Problems with ``name``'s blocks: each block the templates it extends do not
    define, and syntax errors met on the way (a missing parent is the render's to report)."""
    env = environment(tuple(template_dirs))
    try:
        tree, where = _parse(env, name)
        parent = _parent(tree)
        if parent is None:
            return []
        ancestors: list[str] = []
        defined: set[str] = set()
        seen: set[str] = {name}
        while parent is not None and parent not in seen:
            seen.add(parent)
            ancestors.append(parent)
            parent_tree, _ = _parse(env, parent)
            defined.update(b.name for b in parent_tree.find_all(nodes.Block))
            parent = _parent(parent_tree)
    except jinja2.TemplateSyntaxError as exc:
        at = display_path(Path(exc.filename)) if exc.filename else name
        return [Problem(at, exc.lineno, None, f"template syntax error: {exc.message}")]
    except (jinja2.TemplateNotFound, jinja2.exceptions.SecurityError):
        return []  # reported by the file checks and by the render, with where it looked
    problems = []
    for block in _top_blocks(tree):
        if block.name not in defined:
            chain = " or ".join(ancestors)
            problems.append(
                Problem(
                    where,
                    block.lineno,
                    None,
                    f"{{% block {block.name} %}} is not a block of {chain}, so it would never "
                    f"be shown; the blocks you can fill are: {', '.join(sorted(defined))} "
                    "(docs/templates.md lists them)",
                )
            )
    return problems
