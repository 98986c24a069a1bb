"""HTML from a request: the template, its context, nothing else.

The content gate (are the document's checks clean?) runs above this, in the
pipeline (pipeline.py), which passes its verdict in as ``draft``.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from handoutgen.content.library import Library
from handoutgen.content.models import RenderRequest
from handoutgen.content.templating import render_template
from handoutgen.content.workspace import display_path
from handoutgen.core.errors import RenderError
from handoutgen.render.context import Plan, context, plan
from handoutgen.render.marks import Marks
from handoutgen.store import templatecode


def render_html(
    library: Library,
    request: RenderRequest | Plan,
    *,
    standalone: bool = False,
    draft: bool = False,
    pad_pages: int = 0,
    marks: Marks | None = None,
) -> str:
    """The HTML WeasyPrint lays out; ``standalone`` inlines fonts as data URIs.

    ``draft`` marks every page DRAFT (content with errors that the request
    allowed); a document whose status is not ``approved`` is always a draft.
    """
    p = plan(library, request)
    ctx = context(
        library, p, inline_fonts=standalone, draft=draft, pad_pages=pad_pages, marks=marks
    )
    if marks is not None:
        marks.draft = ctx["draft"]
    html = render_template(
        library.workspace.template_dirs, p.document.template, ctx, code_cache=templatecode.CODE
    )
    check_reach(library, html)
    return html


_LINKING = ("src", "href", "data", "poster", "xlink:href", "srcset")
_STYLE_URL = re.compile(r"""url\(\s*(["']?)([^"')]*)\1\s*\)""", re.IGNORECASE)


class _Links(HTMLParser):
    """Every URL a tag's attributes link (src, href, data, style's url())."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "attachment" in (found.get("rel") or "").lower().split():
            return  # refused before layout, with its own message (weasy.refuse_attachments)
        for name, value in attrs:
            if not value:
                continue
            if name in _LINKING:
                self.urls.append(value.split()[0] if name == "srcset" else value)
            elif name == "style":
                self.urls += [m.group(2) for m in _STYLE_URL.finditer(value)]

    handle_startendtag = handle_starttag


def check_reach(library: Library, html: str) -> None:
    """Every workspace file the page links (<img src>, a style's url(), <a
    href>...) must be one a template may read (Workspace.reach_refused): one
    that is not is refused here, at the template line that names it, before
    anything is laid out or written. The URL fetcher refuses them again during
    layout (and anything outside the workspace), whatever got past this."""
    ws = library.workspace
    root = ws.root.resolve()
    links = _Links()
    links.feed(html)
    declared = None
    for url in links.urls:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("", "file") or not parts.path:
            continue
        path = Path(unquote(parts.path))
        target = Path(os.path.realpath(path if path.is_absolute() else ws.root / path))
        if not target.is_relative_to(root):
            continue  # the fetcher's "outside the workspace" (never named)
        if declared is None:
            declared = library.declared_assets()
        why = ws.reach_refused(target, declared)
        if why:
            shown = target.relative_to(root).as_posix()
            raise RenderError(f"{_where(ws, url)}: refused to load '{shown}': {why}")


def _where(ws, needle: str) -> str:  # noqa: ANN001
    """The workspace template file and line that spell ``needle`` (else the folder)."""
    folder = ws.root / "templates"
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if not (path.is_file() and ws.confined(path)):
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, 1):
            if needle in line:
                return f"{display_path(path)}:{number}"
    return "a template"
