"""What a batch is asked to do and what it reports: settings, row results, the report."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from handoutgen.mailing.chart import WriteBacks
from handoutgen.mailing.importprofile import ImportProfile
from handoutgen.mailing.recipients import (
    Column,
    RecipientList,
    RowProblem,
)
from handoutgen.mailing.sheets import DEFAULT_MAX_INPUT

log = logging.getLogger("handoutgen")


# "tracking": the letter's IMb tracking code (no patient data), which a
# resumed batch reads back to reuse its block of serials (mailing/imb.py).
MANIFEST_FIELDS = (
    "id",
    "status",
    "pages",
    "bytes",
    "sha256",
    "render",
    "error",
    "fingerprint",
    "tracking",
    "ehr",  # with --write-back: "stored", or "not stored: why" (a rerun stores it)
)


@dataclass
class BatchSettings:
    document: str
    recipients: Path
    out_dir: Path
    workers: int | None = None  # None: the number of cores
    merged: Path | None = None
    sort: Literal["input", "zip"] = "input"
    resume: bool = False
    overwrite: bool = False  # replace PDFs of an earlier run in out_dir
    dry_run: bool = False
    estimate: bool = True  # --dry-run estimates pages and time from a few sample renders
    encoding: str = "utf-8-sig"  # CSV text encoding
    max_input_size: int = DEFAULT_MAX_INPUT
    scheduler: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    letter_date: dt.date | None = None
    clinic: str | None = None  # the clinic profile (id or name); None: the document's
    allow_draft: bool = False
    editions: bool = True  # share laid-out editions (editions/); False renders each in full
    large_print: bool = False  # every letter in large print (--large-print)
    chunk_size: int | None = None  # None: 24 with editions, 4 without
    recycle_after: int | None = None  # documents per worker before it is replaced
    profile: ImportProfile | None = None  # how the recipient file is read (--profile and flags)
    address_style: Literal["usps", "as-given"] = "usps"
    errors: Path | None = None  # --errors: the bad rows, with a "problem" column
    dask_idle_limit: float = 120.0  # seconds a dask cluster may have no worker before giving up

    @property
    def recycle(self) -> int:
        # A fresh worker costs seconds (imports, fonts, the library): with
        # editions each document is cheap, so workers live longer.
        return self.recycle_after or (600 if self.editions else 100)

    @property
    def chunk(self) -> int:
        # With editions a chunk's personal pages are laid out as one document,
        # so bigger chunks spread WeasyPrint's fixed costs further.
        return max(1, self.chunk_size or (24 if self.editions else 4))


@dataclass
class RowResult:
    id: str
    row: int
    status: Literal["ok", "failed", "invalid"]
    pages: int = 0
    size: int = 0
    sha256: str = ""
    error: str = ""
    missing_glyphs: list[str] = field(default_factory=list)
    # The manifest's render column: "edition", "full", or "full: <why an
    # edition could not be used>"; kept as it was for a resumed row.
    render: str = ""
    resumed: bool = False
    fingerprint: str = ""
    fallback: bool = False  # an edition was tried for this row and could not be used
    tracking: str = ""  # the IMb tracking code, when the letter has a barcode
    ehr: str = ""  # the write-back: "stored", "not stored: why", "" (none asked)

    @property
    def full_render(self) -> str:
        """Why this row was rendered in full instead of from an edition ("" if it was not)."""
        return self.render.removeprefix("full: ") if self.render.startswith("full: ") else ""

    def manifest_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "pages": self.pages or "",
            "bytes": self.size or "",
            "sha256": self.sha256,
            "render": self.render,
            "error": self.error,
            "fingerprint": self.fingerprint,
            "tracking": self.tracking,
            "ehr": self.ehr,
        }


@dataclass
class BatchReport:
    results: list[RowResult]
    problems: list[RowProblem]
    warnings: list[RowProblem] = field(default_factory=list)
    plan: BatchPlan | None = None  # --dry-run
    rendered: int = 0
    resumed: int = 0
    changed: int = 0  # resumed run: rows whose input or settings changed since their PDF
    from_editions: int = 0
    seconds: float = 0.0
    peak_rss_kb: int = 0
    recipients: RecipientList | None = None
    merged_pages: int = 0  # pages of the print file (padding pages included)
    errors_written: int = 0  # rows written to --errors
    write_backs: WriteBacks | None = None  # --write-back: what the EHR got

    @property
    def failed(self) -> int:
        return sum(r.status != "ok" for r in self.results)

    @property
    def pages(self) -> int:
        """Pages rendered in this run (rows kept by --resume not counted)."""
        return sum(r.pages for r in self.results if r.status == "ok" and not r.resumed)

    @property
    def full_renders(self) -> list[RowResult]:
        """Rows rendered in this run that could have shared an edition but were rendered in full."""
        return [r for r in self.results if r.status == "ok" and not r.resumed and r.fallback]


Progress = Callable[[int, int, int], None]  # (done, total, failed)


# -- worker side ---------------------------------------------------------------


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a run: what was finished is kept and vouched for."""

    def __init__(self, written: int, remaining: int):
        super().__init__(written, remaining)
        self.written = written
        self.remaining = remaining


@dataclass
class BatchPlan:
    """What a run will do, for --dry-run."""

    rows: int
    valid: int
    bad_rows: int
    columns: list[Column]
    option_sets: int
    shared_sets: int  # option sets with enough recipients to share an edition
    shared_rows: int
    min_shared: int = 3  # recipients of one set that get an edition
    resumable: int = 0
    foreign: int = 0
    est_pages: int | None = None
    est_seconds: float | None = None
    samples: int = 0
