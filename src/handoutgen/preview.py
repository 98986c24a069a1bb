"""Live preview for designers: PNG pages, re-rendered when a source file changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .content import load_library
from .errors import HandoutgenError
from .output import write_atomic
from .render import make_request, render
from .workspace import Workspace

log = logging.getLogger("handoutgen")


def render_preview(
    workspace: Workspace, document: str, out_dir: Path, *, dpi: int = 72, **request: Any
) -> list[Path]:
    """Render DOCUMENT and write ``DIR/<document>-<n>.png``; stale pages are removed."""
    from .raster import page_pngs

    library = load_library(workspace)
    # Designers see work in progress: content errors mark the page DRAFT
    # instead of stopping the preview.
    pdf = render(
        library, make_request(document=document, allow_draft=True, **request), editions=False
    )
    written = []
    for n, png in enumerate(page_pngs(pdf, dpi), start=1):
        path = out_dir / f"{document}-{n}.png"
        write_atomic(path, png)
        written.append(path)
    for stale in out_dir.glob(f"{document}-*.png"):
        if stale not in written:
            stale.unlink(missing_ok=True)
    return written


def watch_paths(workspace: Workspace) -> list[Path]:
    paths = [workspace.handouts_dir, *workspace.template_dirs, *workspace.style_dirs]
    paths.append(workspace.assets_dir)
    return [p for p in paths if p.is_dir()]


def watch(
    workspace: Workspace,
    document: str,
    out_dir: Path,
    report: Callable[[str], None],
    *,
    stop=None,  # noqa: ANN001 - a threading.Event, for tests
    **options: Any,
) -> None:
    """Render now, then again after every change; a broken edit is reported and
    the watch goes on until it is fixed."""
    import watchfiles

    def once() -> None:
        start = time.perf_counter()
        try:
            pages = render_preview(workspace, document, out_dir, **options)
        except HandoutgenError as exc:
            report(f"Error: {exc.format_message()}")
            return
        report(f"Updated {len(pages)} page(s) in {time.perf_counter() - start:.2f} s")

    once()
    for _changes in watchfiles.watch(*watch_paths(workspace), stop_event=stop, debounce=150):
        once()
