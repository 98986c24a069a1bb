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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict, Unpack

from handoutgen.content.workspace import Workspace

if TYPE_CHECKING:
    from handoutgen.content.approval import Approval, ApprovalState
    from handoutgen.content.library import Library
    from handoutgen.mailing.batch import BatchReport
    from handoutgen.mailing.importprofile import ImportProfile
    from handoutgen.quality.checks import Finding


class RenderFields(TypedDict, total=False):
    """The keyword arguments of :meth:`HandoutWorkspace.render`: the ``render``
    command's flags. Defaults live in :class:`handoutgen.RenderRequest`."""

    patient: str
    visit_date: dt.date | str  # a date or YYYY-MM-DD
    clinician: str
    clinic: str  # a clinic profile: its id or exact name
    options: Sequence[str] | str
    note: str
    first_name: str
    last_name: str
    address1: str
    address2: str
    city: str
    state: str
    zip: str
    letter_date: dt.date | str
    page_size: Literal["letter", "a4"]
    language: str
    format: Literal["pdf", "html", "png"]
    png_dpi: int
    strict: bool
    allow_http: bool
    allow_draft: bool
    large_print: bool
    pdf_variant: Literal["pdf/ua-1", "pdf/a-3u", "pdf/x-4"]
    brand: str
    print_ready: bool


class BatchOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`HandoutWorkspace.batch`: the ``batch``
    command's flags. Defaults live in :class:`handoutgen.BatchSettings`."""

    workers: int | None
    merged: str | os.PathLike[str] | None
    sort: Literal["input", "zip"]
    resume: bool
    overwrite: bool
    dry_run: bool
    estimate: bool
    encoding: str
    max_input_size: int
    scheduler: str | None
    mapping: dict[str, str]
    letter_date: dt.date | None
    clinic: str | None
    allow_draft: bool
    editions: bool
    chunk_size: int | None
    recycle_after: int | None
    profile: ImportProfile | None
    address_style: Literal["usps", "as-given"]
    errors: str | os.PathLike[str] | None
    dask_idle_limit: float


class HandoutWorkspace:
    """A workspace opened for work: render, check, validate and batch.

    The content is read (and validated) on first use and re-read whenever a
    file of the workspace changes, so a long-lived object sees edits.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._library: Library | None = None
        self._stamp: tuple[tuple[str, int, int], ...] | None = None

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def library(self) -> Library:
        """The validated content; raises :class:`handoutgen.ValidationFailed` with every problem."""
        from handoutgen.content.library import load_library

        stamp = self.workspace.content_stamp()
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

    def render(self, document: str, **fields: Unpack[RenderFields]) -> bytes:
        """Render ``document`` and return the file's bytes (PDF unless ``format=`` says otherwise).

        ``fields`` are named like the ``render`` command's flags: ``patient``,
        ``visit_date`` (a date or ``YYYY-MM-DD``), ``clinician``, ``clinic`` (a clinic
        profile's id or name; one with no profile raises :class:`handoutgen.DataError`),
        ``options`` (ids the document offers), ``note``, ``page_size``, ``format`` (pdf, html, png),
        ``language``, ``large_print``, ``brand``, ``allow_draft``, ``strict``...
        Bad values raise :class:`handoutgen.DataError` naming the field.
        """
        from handoutgen.pipeline import make_request, render

        loose: dict[str, object] = dict(fields)
        options = fields.get("options")
        if options is not None:
            loose["options"] = (options,) if isinstance(options, str) else tuple(options)
        request = make_request(document=document, **loose)
        return render(self.library, request)

    def check(
        self, documents: Iterable[str] | None = None, *, today: dt.date | None = None
    ) -> list[Finding]:
        """Run the content checks (the same rules that gate ``render``); return every finding.

        ``today`` fixes the date the review-date rules measure against.
        """
        from handoutgen.quality.checks import check

        docs = list(documents) if documents is not None else None
        return check(self.library, docs, today=today)

    def approval(self, document: str) -> ApprovalState:
        """Whether ``document`` is approved as it reads now, and by whom."""
        from handoutgen.content.approval import approval_state

        self.library.document(document)
        return approval_state(self.library, document)

    def approve(self, document: str, *, by: str, now: dt.datetime | None = None) -> Approval:
        """Record that the clinic approved ``document`` as it reads now: who
        (``by``, with credentials), when, and a hash of everything a patient
        reads in it. Refused while ``check`` finds errors in the document."""
        from handoutgen.content import approval
        from handoutgen.core.errors import ContentError

        library = self.library
        library.document(document)
        approval.clean_approver(by)
        errors = [f for f in self.check([document]) if f.severity == "error"]
        if errors:
            shown = "; ".join(str(e) for e in errors[:3])
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            raise ContentError(
                f"{document} has {len(errors)} content error{'s' if len(errors) != 1 else ''}, "
                f"so it cannot be approved: {shown}{more}. Fix them (see `handoutgen check "
                f"{document}`), then approve again"
            )
        return approval.record(library, document, by, now or dt.datetime.now(dt.UTC))

    def batch(
        self,
        document: str,
        recipients: str | os.PathLike[str],
        out_dir: str | os.PathLike[str],
        **settings: Unpack[BatchOptions],
    ) -> BatchReport:
        """Render ``document`` for every row of ``recipients`` into ``out_dir``.

        ``settings`` are named like the ``batch`` command's flags: ``merged``,
        ``workers``, ``resume``, ``overwrite``, ``dry_run``, ``sort``,
        ``mapping`` ({column: field}), ``letter_date``, ``clinic``, ``encoding``...
        Returns the report; rows that failed are in it, not raised.
        """
        from handoutgen.mailing.batch import BatchSettings, run_batch

        loose: dict[str, object] = dict(settings)
        for name in ("merged", "errors"):
            path = settings.get(name)
            if path is not None:
                loose[name] = Path(path)  # type: ignore[arg-type]
        config = BatchSettings(
            document=document,
            recipients=Path(recipients),
            out_dir=Path(out_dir),
            **loose,  # type: ignore[arg-type]  # BatchOptions mirrors BatchSettings' fields
        )
        return run_batch(self.workspace, config)

    def __repr__(self) -> str:
        return f"<HandoutWorkspace {self.root}>"


def reset_caches() -> None:
    """Forget everything kept in memory between renders: content-check results,
    editions and their differential checks, parsed stylesheets, and the content
    a batch worker loaded. The disk cache is left alone (``handoutgen cache clear``)."""
    from handoutgen.content import approval
    from handoutgen.editions import vdp
    from handoutgen.engine import weasy
    from handoutgen.mailing import workers
    from handoutgen.quality import checks

    checks.clear_caches()
    approval.clear_caches()
    vdp.clear_caches()
    weasy.clear_caches()
    workers.clear_caches()


def open_workspace(path: str | os.PathLike[str] = ".") -> HandoutWorkspace:
    """Open the workspace at ``path`` (a folder with ``handouts/``).

    Raises :class:`handoutgen.ContentError` if it is not one.
    """
    return HandoutWorkspace(Workspace.at(path))
