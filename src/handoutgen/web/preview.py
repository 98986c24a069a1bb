"""Live preview for designers: PNG pages, re-rendered when a source file changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.core.errors import HandoutgenError
from handoutgen.core.output import require_parent, write_atomic
from handoutgen.pipeline import make_request, render

log = logging.getLogger("handoutgen")


def render_preview(
    workspace: Workspace, document: str, out_dir: Path, *, dpi: int = 72, **request: Any
) -> list[Path]:
    """Render DOCUMENT and write ``DIR/<document>-<n>.png``; stale pages are removed."""
    from handoutgen.engine.raster import page_pngs

    require_parent(out_dir)  # DIR itself is made if need be; a folder above it is not
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


def overlay_error(png: bytes, message: str) -> bytes:
    """The page with the error on a red band across its top: the designer keeps
    seeing the last good layout, and sees that it is not current."""
    import io
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    page = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = page.size
    size = max(10, w // 45)
    font = ImageFont.load_default(size=size)
    width = max(20, int(w / (size * 0.55)))
    lines = ["Not updated: the last edit has an error", ""]
    for part in message.splitlines()[:6]:
        lines += textwrap.wrap(part, width) or [""]
    lines = lines[:12]
    band = int(size * (1.3 * len(lines) + 1.2))
    shade = Image.new("RGB", (w, min(h, band)), (179, 38, 30))
    page.paste(Image.blend(page.crop((0, 0, w, min(h, band))), shade, 0.88), (0, 0))
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((size // 2, size // 2 + int(i * size * 1.3)), line, fill="white", font=font)
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()


class Previewer:
    """One document's preview pages, kept current: a good render replaces them;
    a broken edit keeps the last good pages, each marked with the error."""

    def __init__(
        self,
        workspace: Workspace,
        document: str,
        out_dir: Path,
        report: Callable[[str], None],
        **options: Any,
    ) -> None:
        self.workspace, self.document, self.out_dir = workspace, document, out_dir
        self.report, self.options = report, options
        self.last_good: dict[Path, bytes] = {}

    def once(self) -> bool:
        start = time.perf_counter()
        try:
            pages = render_preview(self.workspace, self.document, self.out_dir, **self.options)
        except HandoutgenError as exc:
            message = exc.format_message()
            self.report(f"Error: {message}")
            if self.last_good:
                for path, png in self.last_good.items():
                    write_atomic(path, overlay_error(png, message))
                self.report("The last good pages stay, marked with the error, until it is fixed.")
            return False
        self.last_good = {p: p.read_bytes() for p in pages}
        where = f": {pages[0]}" if pages else ""
        where += f" to {pages[-1].name}" if len(pages) > 1 else ""
        self.report(f"Updated {len(pages)} page(s) in {time.perf_counter() - start:.2f} s{where}")
        return True


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
    the watch goes on until it is fixed, the last good pages marked with it."""
    import watchfiles

    require_parent(out_dir)  # a fault of the command line, not of an edit: stop here
    previewer = Previewer(workspace, document, out_dir, report, **options)
    previewer.once()
    for _changes in watchfiles.watch(*workspace.content_folders(), stop_event=stop, debounce=150):
        previewer.once()
