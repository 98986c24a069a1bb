"""The Python API: one object per workspace that does what the commands do.

    import handoutgen
    ws = handoutgen.open_workspace("path/to/workspace")
    pdf = ws.render("fusion-alternatives", patient="Alex Example", options=["fusion"])

WeasyPrint and the content models load on first use, so importing handoutgen
stays cheap.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .workspace import Workspace

if TYPE_CHECKING:
    from .batch import BatchReport
    from .checks import Finding
    from .content import Library


class HandoutWorkspace:
    """A workspace opened for work: render, check, validate and batch.

    The content is read (and validated) on first use and re-read whenever a
    file of the workspace changes, so a long-lived object sees edits.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._library: Library | None = None
        self._stamp: tuple | None = None

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def library(self) -> Library:
        """The validated content; raises :class:`handoutgen.ValidationFailed` with every problem."""
        from .content import load_library

        stamp = _stamp(self.workspace)
        if self._library is None or stamp != self._stamp:
            self._library = load_library(self.workspace)
            self._stamp = stamp
        return self._library

    def validate(self) -> None:
        """Check every content file; raise :class:`handoutgen.ValidationFailed` listing all problems."""
        self._library = None
        _ = self.library

    @property
    def documents(self) -> list[str]:
        """The document ids, sorted."""
        return sorted(self.library.documents)

    @property
    def options(self) -> list[str]:
        """The option ids, sorted."""
        return sorted(self.library.options)

    def render(self, document: str, **fields: Any) -> bytes:
        """Render ``document`` and return the file's bytes (PDF unless ``format=`` says otherwise).

        ``fields`` are named like the ``render`` command's flags: ``patient``,
        ``visit_date`` (a date or ``YYYY-MM-DD``), ``clinician``, ``clinic``,
        ``options`` (ids), ``note``, ``page_size``, ``format`` (pdf, html, png),
        ``language``, ``large_print``, ``brand``, ``allow_draft``, ``strict``...
        Bad values raise :class:`handoutgen.DataError` naming the field.
        """
        from .render import make_request, render

        if isinstance(fields.get("options"), str):
            fields["options"] = [fields["options"]]
        if fields.get("options") is not None:
            fields["options"] = tuple(fields["options"])
        request = make_request(document=document, **fields)
        return render(self.library, request)

    def check(
        self, documents: Iterable[str] | None = None, *, today: dt.date | None = None
    ) -> list[Finding]:
        """Run the content checks (the same rules that gate ``render``); return every finding.

        ``today`` fixes the date the review-date rules measure against.
        """
        from .checks import check

        docs = list(documents) if documents is not None else None
        return check(self.library, docs, today=today)

    def batch(
        self,
        document: str,
        recipients: str | os.PathLike[str],
        out_dir: str | os.PathLike[str],
        **settings: Any,
    ) -> BatchReport:
        """Render ``document`` for every row of ``recipients`` into ``out_dir``.

        ``settings`` are named like the ``batch`` command's flags: ``merged``,
        ``workers``, ``resume``, ``overwrite``, ``dry_run``, ``sort``,
        ``mapping`` ({column: field}), ``letter_date``, ``encoding``...
        Returns the report; rows that failed are in it, not raised.
        """
        from .batch import BatchSettings, run_batch

        if settings.get("merged") is not None:
            settings["merged"] = Path(settings["merged"])
        config = BatchSettings(
            document=document, recipients=Path(recipients), out_dir=Path(out_dir), **settings
        )
        return run_batch(self.workspace, config)

    def __repr__(self) -> str:
        return f"<HandoutWorkspace {self.root}>"


def reset_caches() -> None:
    """Forget everything kept in memory between renders: content-check results,
    editions and their differential checks, parsed stylesheets, and the content
    a batch worker loaded. The disk cache is left alone (``handoutgen cache clear``)."""
    from . import batch, checks, vdp, weasy

    checks.clear_caches()
    vdp.clear_caches()
    weasy.clear_caches()
    batch.clear_caches()


def open_workspace(path: str | os.PathLike[str] = ".") -> HandoutWorkspace:
    """Open the workspace at ``path`` (a folder with ``handouts/``).

    Raises :class:`handoutgen.ContentError` if it is not one.
    """
    return HandoutWorkspace(Workspace.at(path))


def _stamp(ws: Workspace) -> tuple:
    """Names, sizes and times of the content files: changes when any is edited."""
    out = []
    folders = (ws.handouts_dir, ws.root / "templates", ws.root / "styles", ws.assets_dir)
    for folder in (*folders, ws.root / "locale"):
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                try:
                    st = p.stat()
                except OSError:
                    continue
                out.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(out)
