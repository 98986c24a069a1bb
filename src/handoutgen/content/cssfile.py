"""A designer's stylesheet, on its own: syntax problems at its file and line, and
``url()`` resolved relative to it (as browsers do), still inside the workspace.

Stylesheets are inlined into one ``<style>`` for WeasyPrint, whose warnings
then count lines in the combined sheet and whose base URL is the workspace
root. So each file is parsed on its own (tinycss2, WeasyPrint's parser) before
it is combined, and its relative URLs are rewritten to what they mean there.
"""

from __future__ import annotations

from pathlib import Path

import tinycss2

from handoutgen.content.workspace import Workspace, inside
from handoutgen.core.errors import Problem, RenderError

# At-rules whose block holds rules, and those whose block holds declarations.
_RULE_BLOCKS = {"media", "supports", "layer", "container", "document"}


def _unclosed(text: str, display: str) -> list[Problem]:
    """Braces that do not pair up. tinycss2 (like browsers) closes an open block at
    the end of the file, so a missing ``}`` silently swallows every rule after it."""
    problems: list[Problem] = []
    stack: list[tuple[int, int]] = []
    line, col, i, n = 1, 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            chunk = text[i:end]
            line += chunk.count("\n")
            col = len(chunk) - chunk.rfind("\n") - 1 if "\n" in chunk else col + len(chunk)
            i = end
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            col += j + 1 - i
            i = j + 1
            continue
        col += 1
        if c == "\n":
            line, col = line + 1, 0
        elif c == "{":
            stack.append((line, col))
        elif c == "}":
            if stack:
                stack.pop()
            else:
                problems.append(
                    Problem(display, line, col, "CSS syntax error: '}' closes nothing; remove it")
                )
        i += 1
    for at_line, at_col in stack[:1]:  # the outermost one swallows the rest
        problems.append(
            Problem(
                display,
                at_line,
                at_col,
                "CSS syntax error: the '{' opened here is never closed, so every rule after "
                "it is swallowed into this one; add the missing '}'",
            )
        )
    return problems


def _node_problems(nodes: list, display: str, *, declarations: bool) -> list[Problem]:
    problems = []
    for node in nodes:
        if node.type == "error":
            message = node.message
            if declarations:
                message = (
                    "expected a 'property: value;' declaration here (is a ':' or ';' missing?)"
                )
            problems.append(
                Problem(
                    display, node.source_line, node.source_column, f"CSS syntax error: {message}"
                )
            )
        elif node.type == "qualified-rule" and node.content is not None:
            inner = tinycss2.parse_blocks_contents(
                node.content, skip_comments=True, skip_whitespace=True
            )
            problems += _node_problems(inner, display, declarations=True)
        elif node.type == "at-rule" and node.content is not None:
            name = node.lower_at_keyword
            if name in _RULE_BLOCKS and not declarations:
                inner = tinycss2.parse_rule_list(
                    node.content, skip_comments=True, skip_whitespace=True
                )
            else:
                inner = tinycss2.parse_blocks_contents(
                    node.content, skip_comments=True, skip_whitespace=True
                )
            problems += _node_problems(inner, display, declarations=name not in _RULE_BLOCKS)
    return problems


def css_problems(text: str, display: str) -> list[Problem]:
    """Syntax problems of one stylesheet, each at its line and column in that file."""
    unclosed = _unclosed(text, display)
    if unclosed:
        return unclosed  # anything else found would be an echo of the missing brace
    rules = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
    return _node_problems(rules, display, declarations=False)


def _is_relative(url: str) -> bool:
    head = url.split("/", 1)[0]
    return bool(url) and not url.startswith(("#", "/")) and ":" not in head


def rewrite_urls(text: str, path: Path, workspace: Workspace, display: str) -> str:
    """``url(x)`` in the stylesheet at ``path`` made to mean ``path``'s folder / x
    when the CSS is inlined (its base is the workspace root). A URL that leads
    outside the workspace and the package is a RenderError at its line."""
    nodes = tinycss2.parse_component_value_list(text, skip_comments=False)
    changed = False
    root = workspace.root.resolve()

    def fix(url: str, node) -> str:  # noqa: ANN001
        nonlocal changed
        if not _is_relative(url):
            return url
        target = Path(_strip(url)).as_posix()
        resolved = (path.parent / target).resolve()
        if not inside(resolved, workspace.roots):
            raise RenderError(
                f"{display}:{node.source_line}: url() leads outside the workspace; a stylesheet "
                "may use files inside the workspace only (relative to the stylesheet)"
            )
        changed = True
        suffix = url[len(_strip(url)) :]
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix() + suffix
        return resolved.as_uri() + suffix

    def walk(items: list) -> None:  # noqa: ANN001
        for k, node in enumerate(items):
            if node.type == "url":
                new = fix(node.value, node)
                if new != node.value:
                    items[k] = tinycss2.ast.URLToken(
                        node.source_line, node.source_column, new, _url_repr(new)
                    )
            elif node.type == "function" and node.lower_name == "url":
                args = [a for a in node.arguments if a.type not in ("whitespace", "comment")]
                if len(args) == 1 and args[0].type == "string":
                    new = fix(args[0].value, node)
                    if new != args[0].value:
                        items[k] = tinycss2.ast.URLToken(
                            node.source_line, node.source_column, new, _url_repr(new)
                        )
                else:
                    walk(node.arguments)
            elif hasattr(node, "content") and isinstance(node.content, list):
                walk(node.content)
            elif hasattr(node, "arguments") and isinstance(node.arguments, list):
                walk(node.arguments)

    walk(nodes)
    return tinycss2.serialize(nodes) if changed else text


def _strip(url: str) -> str:
    """The path part of a URL (without ?query or #fragment)."""
    for mark in ("?", "#"):
        url = url.split(mark, 1)[0]
    return url


def _url_repr(url: str) -> str:
    escaped = url.replace("\\", "\\\\").replace('"', '\\"')
    return f'url("{escaped}")'
