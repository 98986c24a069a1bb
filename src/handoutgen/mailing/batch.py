"""Mailings: one PDF per recipient, a manifest, and an optional merged print file.

The parent process alone writes files (each one atomically), so a crash or a
``kill -9`` leaves only finished PDFs; ``resume`` renders exactly the rows
without one and rebuilds the manifest from what is on disk. Rendering runs in
worker processes that are replaced after a number of documents (flat memory),
or on a dask.distributed cluster with the same task function.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from handoutgen.content.library import Library, load_library
from handoutgen.content.models import PERSONAL_FIELDS
from handoutgen.content.workspace import Workspace
from handoutgen.core.errors import DataError, HandoutgenError
from handoutgen.core.output import make_private_dir, remove_parts, write_atomic
from handoutgen.mailing.recipients import (
    DEFAULT_MAX_INPUT,
    Column,
    Recipient,
    RecipientList,
    RowProblem,
    load_recipients,
)
from handoutgen.store.lock import FolderLock

log = logging.getLogger("handoutgen")

MANIFEST_FIELDS = ("id", "status", "pages", "bytes", "sha256", "render", "error", "fingerprint")


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
    allow_draft: bool = False
    editions: bool = True  # share laid-out editions (vdp.py); False renders each in full
    chunk_size: int | None = None  # None: 24 with editions, 4 without
    recycle_after: int | None = None  # documents per worker before it is replaced

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

_WORKER: dict[str, Any] = {}


def clear_caches() -> None:
    _WORKER.clear()


def render_chunk(
    workspace_root: str,
    content_hash: str,
    document: str,
    items: list[tuple[str, int, dict[str, Any]]],
    allow_draft: bool,
    editions: bool = True,
) -> list[dict[str, Any]]:
    """Render a few recipients. Runs in a worker process or on a dask worker.

    Returns plain dicts (picklable, no exceptions) with the PDF bytes.
    """
    import resource

    from handoutgen.content.fonts import missing_glyphs
    from handoutgen.core.errors import RenderError
    from handoutgen.pipeline import Outcome, make_request, render, render_many

    library = _WORKER.get(workspace_root)
    if library is None or library.content_hash != content_hash:
        library = load_library(Workspace.at(workspace_root))
        _WORKER[workspace_root] = library
    if library.content_hash != content_hash:
        msg = "this worker sees different content than the client (is the workspace shared?)"
        return [{"id": i, "row": r, "error": msg} for i, r, _ in items]
    out: list[dict[str, Any]] = []
    requests: list[tuple[str, int, dict[str, Any], Any]] = []
    for rid, row, fields in items:
        try:
            requests.append((rid, row, fields, make_request(**fields, allow_draft=allow_draft)))
        except HandoutgenError as exc:
            out.append({"id": rid, "row": row, "error": exc.format_message()})
    try:
        if editions:
            # The client grouped these recipients: their set repays an edition.
            outcomes = render_many(library, [r for *_, r in requests])
        else:
            outcomes = []
            for *_, request in requests:
                try:
                    outcomes.append(Outcome(pdf=render(library, request, editions=False)))
                except HandoutgenError as exc:
                    outcomes.append(Outcome(error=exc))
    except Exception as exc:  # a bug must not lose the rest of the batch
        log.debug("chunk failed", exc_info=True)
        failure = RenderError(f"internal error: {type(exc).__name__}")
        outcomes = [Outcome(error=failure) for _ in requests]
    for (rid, row, fields, _), outcome in zip(requests, outcomes, strict=False):
        if outcome.error is not None:
            out.append({"id": rid, "row": row, "error": outcome.error.format_message()})
            continue
        if outcome.pdf is None:
            out.append({"id": rid, "row": row, "error": outcome.reason or "internal error"})
            continue
        personal = " ".join(str(fields.get(k) or "") for k in PERSONAL_FIELDS)
        out.append(
            {
                "id": rid,
                "row": row,
                "pdf": outcome.pdf,
                "pages": outcome.pages or _page_count(outcome.pdf),
                "missing": missing_glyphs(personal),
                "mode": outcome.mode.value,
                "reason": outcome.reason if outcome.mode == "full" and editions else "",
            }
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for item in out:
        item["rss_kb"] = rss
    return out


def _page_count(pdf: bytes) -> int:
    from handoutgen.engine.raster import page_count

    return page_count(pdf)


# -- client side -----------------------------------------------------------------

MANIFEST = "manifest.csv"
LOCK = ".handoutgen.lock"


def fingerprint(rec: Recipient, settings: BatchSettings, content_hash: str) -> str:
    """What a row's PDF was made from: its input fields, the document, the
    content (templates, styles and assets included) and every setting that
    changes the output. A PDF is reused only under the same fingerprint."""
    from handoutgen.core.version import __version__
    from handoutgen.engine.weasy import version

    payload = {
        "fields": rec.request_fields(settings.document, settings.letter_date),
        "content": content_hash,
        "allow_draft": settings.allow_draft,
        "editions": settings.editions,
        "handoutgen": __version__,
        "weasyprint": version(),  # cached: this runs once per row
    }
    blob = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Voucher:
    """A finished row as a manifest records it."""

    id: str
    pages: int
    size: int
    sha256: str
    render: str
    fingerprint: str


def read_vouchers(path: Path) -> dict[str, Voucher]:
    """The rows a manifest says were finished. A torn or altered line vouches
    for nothing; the last line for an id wins (the manifest is appended as rows
    finish, then rewritten in order at the end)."""
    out: dict[str, Voucher] = {}
    try:
        fh = open(path, newline="", encoding="utf-8")  # noqa: SIM115
    except (FileNotFoundError, IsADirectoryError):
        return out
    with fh:
        try:
            for row in csv.DictReader(fh):
                rid = row.get("id") or ""
                if row.get("status") != "ok":
                    out.pop(rid, None)
                    continue
                try:
                    v = Voucher(
                        rid,
                        int(row["pages"]),
                        int(row["bytes"]),
                        row["sha256"],
                        row.get("render") or "",
                        row["fingerprint"],
                    )
                except (KeyError, TypeError, ValueError):
                    continue
                if _HEX64.match(v.sha256) and _HEX64.match(v.fingerprint):
                    out[rid] = v
        except (csv.Error, UnicodeDecodeError):
            pass  # a damaged manifest vouches for what was read before the damage
    return out


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Existing:
    """What an output folder already holds, measured against this run."""

    reusable: dict[str, Voucher]  # id -> a PDF on disk that this run may keep
    changed: list[str]  # ids whose earlier PDF was made from other input or settings
    foreign: list[Path]  # PDFs that no manifest line with this run's fingerprint vouches for
    previous: list[Path]  # PDFs the manifest lists for ids not in this run


def survey(out_dir: Path, fingerprints: dict[str, str], verify: bool) -> Existing:
    vouchers = read_vouchers(out_dir / MANIFEST)
    pdfs = sorted(out_dir.glob("*.pdf")) if out_dir.is_dir() else []
    ex = Existing({}, [], [], [])
    for path in pdfs:
        rid = path.stem
        v = vouchers.get(rid)
        fp = fingerprints.get(rid)
        if fp is None:
            (ex.previous if v else ex.foreign).append(path)
            continue
        if v is None or v.fingerprint != fp:
            ex.foreign.append(path)
            if v is not None:
                ex.changed.append(rid)
            continue
        if verify and not _intact(path, v):
            ex.foreign.append(path)
            continue
        ex.reusable[rid] = v
    return ex


def _intact(path: Path, v: Voucher) -> bool:
    """The file is the one the manifest vouches for, and it opens as a PDF."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if len(data) != v.size or hashlib.sha256(data).hexdigest() != v.sha256:
        return False
    try:
        return _page_count(data) == v.pages
    except Exception:  # noqa: BLE001 - any failure to open means "not done"
        return False


def check_paths(settings: BatchSettings, ids: list[str]) -> None:
    """Refuse, before anything is rendered, outputs that would overwrite an
    input or each other."""
    out = settings.out_dir.resolve()
    source = settings.recipients.resolve()
    if out.exists() and not out.is_dir():
        raise DataError(f"-o {settings.out_dir}: is a file; -o takes a folder")
    written = {out / f"{i}.pdf" for i in ids} | {out / MANIFEST, out / LOCK}
    if source in written:
        raise DataError(
            f"{settings.recipients}: the batch would overwrite its own recipient file; "
            "move it out of the output folder, or pick another -o"
        )
    if settings.merged is None:
        return
    merged = settings.merged.resolve()
    if merged == source:
        raise DataError(
            f"--merged {settings.merged}: that is the recipient file; pick another name"
        )
    if merged == out or out in merged.parents:
        raise DataError(
            f"--merged {settings.merged}: inside the output folder {settings.out_dir}, where "
            "it could replace a recipient's PDF or the manifest; put it outside, "
            f"like {settings.out_dir.parent / (settings.out_dir.name + '-print.pdf')}"
        )
    if merged.is_dir():
        raise DataError(f"--merged {settings.merged}: is a folder; --merged takes a file name")


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


def plan_batch(
    settings: BatchSettings,
    recipients: RecipientList,
    good: list[Recipient],
    existing: Existing | None,
    min_shared: int,
) -> BatchPlan:
    keys = [_edition_group(r.request_fields(settings.document, None)) for r in good]
    counts: dict[tuple, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    shared = {k: n for k, n in counts.items() if n >= min_shared} if settings.editions else {}
    return BatchPlan(
        rows=recipients.rows,
        valid=len(good),
        bad_rows=recipients.bad_rows,
        columns=recipients.columns,
        option_sets=len({k[0] for k in counts}),
        shared_sets=len(shared),
        shared_rows=sum(shared.values()),
        min_shared=min_shared,
        resumable=len(existing.reusable) if existing else 0,
        foreign=len(existing.foreign) if existing else 0,
    )


def estimate(
    library: Library, settings: BatchSettings, good: list[Recipient], plan: BatchPlan
) -> None:
    """Fill in estimated pages and time from a few real renders (one per count
    of options, at most three), laid out in this process and written nowhere."""
    from handoutgen.pipeline import make_request, render

    if not good:
        plan.est_pages, plan.est_seconds = 0, 0.0
        return
    by_count: dict[int, Recipient] = {}
    for rec in good:
        by_count.setdefault(len(rec.fields.get("options") or ()), rec)
    picks = sorted(by_count)
    if len(picks) > 3:
        picks = [picks[0], picks[len(picks) // 2], picks[-1]]
    pages: dict[int, int] = {}
    seconds: list[float] = []
    for n in picks:
        rec = by_count[n]
        t0 = time.perf_counter()
        req = make_request(
            **rec.request_fields(settings.document, settings.letter_date),
            allow_draft=settings.allow_draft,
        )
        pages[n] = _page_count(render(library, req, editions=False))
        seconds.append(time.perf_counter() - t0)
    known = sorted(pages)
    total = 0
    for rec in good:
        n = len(rec.fields.get("options") or ())
        nearest = min(known, key=lambda k: (abs(k - n), k))
        total += pages[nearest]
    full = min(seconds)
    startup = max(seconds)  # the first render also pays for imports and fonts, as each worker does
    workers = settings.workers or os.cpu_count() or 1
    shared_rows = plan.shared_rows
    work = (
        (plan.valid - shared_rows - plan.resumable) * full
        + plan.shared_sets * 2 * full  # build + self-check of each edition
        + shared_rows * full / 12
    )
    plan.est_pages = total
    plan.est_seconds = startup + max(0.0, work) / workers
    plan.samples = len(picks)


def run_batch(
    workspace: Workspace, settings: BatchSettings, progress: Progress | None = None
) -> BatchReport:
    """Validate every row, then render the good ones. Raises DataError on unusable input."""
    start = time.perf_counter()
    if settings.resume and settings.overwrite:
        raise DataError("--resume keeps finished PDFs and --overwrite replaces them; pick one")
    # A mailing's folders (output and merged file) are made private (0700)
    # with their parents, as tests/test_batch_integrity.py requires.
    library = load_library(workspace)
    doc = library.document(settings.document)
    recipients = load_recipients(
        settings.recipients,
        library,
        doc,
        settings.mapping,
        encoding=settings.encoding,
        max_bytes=settings.max_input_size,
    )
    good = list(recipients.good)
    problems = recipients.problems
    # A row whose options are more than a tri-fold or booklet holds is an invalid
    # row, in a dry run too (see fit.py).
    from handoutgen.mailing.recipients import RowProblem
    from handoutgen.quality.fit import unfit_rows

    unfit = unfit_rows(library, doc, good)
    if unfit:
        problems += [RowProblem(recipients.source, row, "options", m) for row, m in unfit.items()]
        good = [r for r in good if r.row not in unfit]
    if settings.sort == "zip":
        good.sort(key=lambda r: (r.fields.get("zip") or "", r.row))
    check_paths(settings, [r.id for r in good])
    fps = {r.id: fingerprint(r, settings, library.content_hash) for r in good}
    report = BatchReport(results=[], problems=problems, warnings=recipients.warnings)
    if settings.dry_run:
        existing = survey(settings.out_dir, fps, verify=True) if settings.resume else None
        if existing is None and settings.out_dir.is_dir():
            existing = survey(settings.out_dir, fps, verify=False)
            existing.reusable.clear()
        report.plan = plan_batch(settings, recipients, good, existing, _min_shared())
        if settings.estimate:
            estimate(library, settings, good, report.plan)
        report.seconds = time.perf_counter() - start
        return report

    out_dir = settings.out_dir
    make_private_dir(out_dir)
    with FolderLock(out_dir / LOCK, what="batch") as lock:
        if lock.stale_pid:
            log.warning(
                "took over the lock of an earlier batch (pid %s) that ended without releasing it",
                lock.stale_pid,
            )
        _run_locked(library, settings, good, fps, report, progress)
    report.seconds = time.perf_counter() - start
    return report


def _run_locked(
    library: Library,
    settings: BatchSettings,
    good: list[Recipient],
    fps: dict[str, str],
    report: BatchReport,
    progress: Progress | None,
) -> None:
    out_dir = settings.out_dir
    # A crash can leave write_atomic's temporary files behind (the merged
    # file's too, which holds every patient's pages); they are never finished
    # output, so they go.
    for stale in out_dir.glob(".*.part"):
        stale.unlink(missing_ok=True)
    if settings.merged is not None:
        remove_parts(settings.merged)
    existing = survey(out_dir, fps, verify=settings.resume)
    if existing.foreign and not (settings.resume or settings.overwrite):
        n = len(existing.foreign)
        raise DataError(
            f"{out_dir} already holds {n} PDF{'s' if n != 1 else ''} that this run did not "
            "make (from another recipient list, changed rows or other settings; no manifest "
            "line of this run vouches for them). Add --resume to keep the PDFs that still "
            "match and render the rest, or --overwrite to replace them all, or pick an "
            "empty folder"
        )
    if settings.overwrite:
        for path in existing.previous:
            path.unlink(missing_ok=True)
        if existing.previous:
            log.info("removed %d PDFs of the previous run", len(existing.previous))
    if existing.previous and not settings.overwrite:
        log.warning(
            "%s holds %d PDFs of recipients not in this list; they are left as they are and "
            "are not in the manifest or the merged file",
            out_dir,
            len(existing.previous),
        )
    problems = report.problems
    invalid = {p.row for p in problems}
    results: dict[str, RowResult] = {}
    todo: list[Recipient] = []
    for rec in good:
        v = existing.reusable.get(rec.id) if settings.resume else None
        if v is not None:
            results[rec.id] = RowResult(
                rec.id, rec.row, "ok", v.pages, v.size, v.sha256, render=v.render, resumed=True
            )
            results[rec.id].fingerprint = v.fingerprint
            report.resumed += 1
        else:
            todo.append(rec)
    report.changed = len(set(existing.changed) & set(fps)) if settings.resume else 0

    order = [r.id for r in good]
    # Invalid rows are named by row number: their id may be missing or unsafe.
    invalid_results = [
        RowResult(
            id=f"row-{row}",
            row=row,
            status="invalid",
            error="; ".join(f"{p.field}: {p.message}" for p in problems if p.row == row),
        )
        for row in sorted(invalid)
    ]
    manifest = out_dir / MANIFEST

    def final_manifest() -> None:
        _write_manifest(manifest, [results[i] for i in order if i in results] + invalid_results)

    # The manifest is a journal while the run lasts: the rows kept from before,
    # then one line per finished row, appended and flushed after its PDF is in
    # place. A kill at any moment leaves every finished PDF vouched for, or
    # (if it landed between the two writes) not vouched for and so rendered again.
    _write_manifest(manifest, list(results.values()))
    journal = open(manifest, "a", newline="", encoding="utf-8")  # noqa: SIM115
    writer = csv.DictWriter(journal, fieldnames=MANIFEST_FIELDS, lineterminator="\n")

    def record(result: RowResult) -> None:
        results[result.id] = result
        writer.writerow(result.manifest_row())
        journal.flush()
        os.fsync(journal.fileno())

    total = len(todo)
    done = failed = 0
    min_shared = _min_shared()
    # The print file is copied together as the PDFs come in, while the workers
    # render the next ones (written at the end, in the recipients' order).
    print_file = PrintFile() if settings.merged else None
    if progress:
        progress(0, total, 0)
    try:
        with contextlib.closing(_execute(library, settings, todo)) as items:
            for item in items:
                rec_id = item["id"]
                if "error" in item:
                    result = RowResult(rec_id, item["row"], "failed", error=item["error"])
                    failed += 1
                    log.warning("row %s (id %s): failed: %s", item["row"], rec_id, item["error"])
                else:
                    pdf = item["pdf"]
                    write_atomic(out_dir / f"{rec_id}.pdf", pdf)
                    if print_file is not None:
                        print_file.add(out_dir / f"{rec_id}.pdf", pdf)
                    mode = item.get("mode", "") or "full"
                    reason = item.get("reason", "")
                    fallback = bool(reason)  # an edition was tried and could not be used
                    if mode == "full" and not reason:
                        reason = (
                            f"fewer than {min_shared} recipients share this set of options"
                            if settings.editions
                            else "--full-render"
                        )
                    result = RowResult(
                        rec_id,
                        item["row"],
                        "ok",
                        item["pages"],
                        len(pdf),
                        hashlib.sha256(pdf).hexdigest(),
                        missing_glyphs=item["missing"],
                        render=f"full: {reason}" if reason else mode,
                        fallback=fallback,
                    )
                    report.rendered += 1
                    report.from_editions += mode == "edition"
                    if item["missing"]:
                        log.warning(
                            "row %s (id %s): no installed font can draw %s; they print as empty boxes",
                            item["row"],
                            rec_id,
                            " ".join(item["missing"]),
                        )
                result.fingerprint = fps[rec_id]
                record(result)
                report.peak_rss_kb = max(report.peak_rss_kb, item.get("rss_kb", 0))
                done += 1
                if progress:
                    progress(done, total, failed)
    finally:
        journal.close()
        # Whatever happened (even Ctrl-C), the manifest says what is on disk.
        final_manifest()

    report.results = [results[i] for i in order if i in results] + invalid_results
    if settings.merged:
        assert print_file is not None
        ok = [out_dir / f"{r.id}.pdf" for r in report.results if r.status == "ok"]
        print_file.write(ok, settings.merged)


def _write_manifest(path: Path, rows: list[RowResult]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r.manifest_row())
    write_atomic(path, buf.getvalue().encode("utf-8"))


def _min_shared() -> int:
    """Recipients of one set that repay building an edition (vdp.SHARED_MIN)."""
    from handoutgen.editions import vdp

    return vdp.SHARED_MIN


def _chunks(settings: BatchSettings, todo: list[Recipient], min_shared: int):
    """(chunk, use editions) pairs. With editions, recipients likely to share
    one are grouped; a group too small to repay building and checking its
    edition is rendered in full. Stable: the same input gives the same chunks."""
    items = [(r.id, r.row, r.request_fields(settings.document, settings.letter_date)) for r in todo]
    size = settings.chunk
    if not settings.editions:
        for i in range(0, len(items), size):
            yield items[i : i + size], False
        return
    keys = [_edition_group(item[2]) for item in items]
    groups: dict[tuple, list] = {}
    for key, item in zip(keys, items, strict=True):
        groups.setdefault(key, []).append(item)
    singles = [item for key, item in zip(keys, items, strict=True) if len(groups[key]) < min_shared]
    per_group = [
        [members[i : i + size] for i in range(0, len(members), size)]
        for _, members in sorted(groups.items(), key=lambda kv: repr(kv[0]))
        if len(members) >= min_shared
    ]
    # Round-robin over the groups: workers start on different editions, so
    # they build them side by side instead of waiting for each other.
    for round_ in range(max((len(c) for c in per_group), default=0)):
        for chunks in per_group:
            if round_ < len(chunks):
                yield chunks[round_], True
    for i in range(0, len(singles), 4):
        yield singles[i : i + 4], False


def _edition_group(f: dict[str, Any]) -> tuple:
    """What decides a recipient's edition, short of rendering its template."""
    return (
        tuple(f.get("options") or ()),
        f.get("language") or "",
        f.get("page_size") or "",
        f.get("large_print") or False,
        bool(f.get("patient") or f.get("visit_date")),
        bool(f.get("note") or f.get("clinician")),
    )


def _execute(
    library: Library, settings: BatchSettings, todo: list[Recipient]
) -> Generator[dict[str, Any], None, None]:
    if not todo:
        return
    root = str(library.workspace.root)
    args = (root, library.content_hash, settings.document)
    chunks = list(_chunks(settings, todo, _min_shared()))  # (items, use editions)
    if settings.scheduler:
        yield from _execute_dask(settings, args, chunks)
        return
    workers = settings.workers or os.cpu_count() or 1
    if workers == 1:
        _WORKER[root] = library
        for chunk, editions in chunks:
            yield from render_chunk(*args, chunk, settings.allow_draft, editions)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("spawn")  # no inherited WeasyPrint/fontconfig state
    per_child = max(1, settings.recycle // settings.chunk)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=ctx,
        max_tasks_per_child=per_child,
        initializer=_watch_parent,
        initargs=(os.getpid(),),
    )
    finished_cleanly = False
    try:
        in_flight: dict = {}
        queue = iter(chunks)

        def submit(job: tuple[list, bool]) -> None:
            chunk, editions = job
            fut = pool.submit(render_chunk, *args, chunk, settings.allow_draft, editions)
            in_flight[fut] = chunk

        # Keep a bounded number of chunks in flight so results stream back.
        for chunk in queue:
            submit(chunk)
            if len(in_flight) >= workers * 2:
                break
        while in_flight:
            finished, _ = wait(set(in_flight), return_when=FIRST_COMPLETED)
            for fut in finished:
                yield from _chunk_result(fut, in_flight.pop(fut))
                nxt = next(queue, None)
                if nxt is not None:
                    submit(nxt)
        finished_cleanly = True
    finally:
        if not finished_cleanly:
            # Interrupted (Ctrl-C, SIGTERM, an error while writing): stop the
            # workers now rather than let them finish chunks nobody will write.
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        pool.shutdown(wait=finished_cleanly, cancel_futures=True)


def _watch_parent(parent: int) -> None:
    """Worker start-up: exit as soon as the batch process is gone, so a killed
    parent (even ``kill -9``) never leaves workers rendering patient letters."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _chunk_result(fut, chunk) -> list[dict[str, Any]]:  # noqa: ANN001
    try:
        return fut.result()
    except Exception as exc:  # a worker died: its rows fail, the batch goes on
        return [
            {"id": i, "row": r, "error": f"worker failed: {type(exc).__name__}"}
            for i, r, _ in chunk
        ]


def _execute_dask(settings: BatchSettings, args: tuple, chunks: list) -> Iterator[dict[str, Any]]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise DataError(
            "--scheduler needs dask.distributed: pip install 'handoutgen[cluster]'"
        ) from None
    try:
        client = Client(settings.scheduler, timeout=10)
    except OSError as exc:
        raise DataError(f"cannot reach the dask scheduler at {settings.scheduler}: {exc}") from None
    try:
        futures = {}
        for chunk, editions in chunks:
            fut = client.submit(
                render_chunk, *args, chunk, settings.allow_draft, editions, pure=False
            )
            futures[fut] = chunk
        for fut in as_completed(list(futures)):
            yield from _chunk_result(fut, futures[fut])
    finally:
        client.close()


def merge_for_duplex(paths: list[Path], target: Path) -> int:
    """One print file in the given order; each recipient padded to an even page
    count so every recipient starts on a new sheet when printed duplex.

    Identical objects (an edition's page content, fonts and images, shared by
    every recipient of that edition) are stored once: the print file holds each
    edition once plus each recipient's thin personal layer."""
    return PrintFile().write(paths, target)


class PrintFile:
    """A merged print file built as the PDFs come in (a batch copies each one
    while the workers render the next), written in the recipients' order at
    the end. The bytes do not depend on the order PDFs were added: the writer
    numbers objects as it walks the pages."""

    def __init__(self) -> None:
        import pikepdf

        self.merged = pikepdf.Pdf.new()
        self.interner = _Interner(self.merged)
        # path -> its pages in the merged file, and the page size of its padding page
        self.copied: dict[Path, tuple[list[Any], tuple[float, float] | None]] = {}

    def add(self, path: Path, data: bytes | None = None) -> None:
        """Copy a recipient's PDF (``data``: its bytes, as written to ``path``)."""
        import pikepdf

        with pikepdf.open(io.BytesIO(data) if data is not None else path) as src:
            memo: dict[tuple[int, int], Any] = {}
            pages = [self.interner.page(page.obj, memo) for page in src.pages]
            pad = None
            if len(src.pages) % 2:
                box = src.pages[-1].mediabox
                pad = (float(box[2]), float(box[3]))
        self.copied[path] = (pages, pad)

    def write(self, paths: list[Path], target: Path) -> int:
        """Write the print file of ``paths``, in that order (copying any not added yet)."""
        import pikepdf

        for path in paths:
            if path not in self.copied:
                self.add(path)
        for path in paths:
            pages, pad = self.copied[path]
            for page in pages:
                self.merged.pages.append(page)
            if pad is not None:
                self.merged.add_blank_page(page_size=pad)
        # Object streams group objects in the order they were made, which is
        # the order the PDFs came in: a first save numbers them as the pages
        # are walked, so the file's bytes depend only on its content.
        plain = io.BytesIO()
        self.merged.save(
            plain, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.disable
        )
        count = len(self.merged.pages)
        with pikepdf.open(plain) as walked:
            buf = io.BytesIO()
            walked.save(
                buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate
            )
        write_atomic(target, buf.getvalue())
        return count


# An indirect reference in an object's written form ("12 0 R"); a string that
# merely looks like one only sends the object the slower way.
_REFERENCE = re.compile(rb"\d+\s+\d+\s+R\b")


class _Interner:
    """Copies PDF objects into one file, content-addressed: an object equal to
    one already copied (same bytes, same keys, equal children) is reused."""

    _PAGE_KEYS = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate")

    def __init__(self, target) -> None:  # noqa: ANN001
        self.target = target
        self.by_digest: dict[bytes, Any] = {}

    def page(self, page, memo: dict):  # noqa: ANN001, ANN201
        import pikepdf

        # Only what is drawn: the print file needs no tags, links or metadata.
        new = pikepdf.Dictionary(Type=pikepdf.Name.Page)
        for key in self._PAGE_KEYS:
            if key in page:
                new[key] = self.copy(page[key], memo)[0]
        new.Resources = self.copy(page.get("/Resources", pikepdf.Dictionary()), memo)[0]
        if "/Contents" in page:
            new.Contents = self.copy(page.Contents, memo)[0]
        return pikepdf.Page(self.target.make_indirect(new))

    def copy(self, obj, memo: dict) -> tuple[Any, bytes]:  # noqa: ANN001
        """(the copy in the target, its digest)."""
        import pikepdf

        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            key = obj.objgen
            if key in memo:
                if memo[key] is None:  # a cycle: resources never have one, but be safe
                    return self.target.copy_foreign(obj), hashlib.sha256(
                        repr(key).encode()
                    ).digest()
                return memo[key]
            memo[key] = None
        h = hashlib.sha256()
        if isinstance(obj, pikepdf.Stream):
            raw = obj.read_raw_bytes()
            items = {k: self.copy(v, memo) for k, v in obj.items() if k not in ("/Length",)}
            h.update(b"S")
            for k in sorted(items):
                h.update(k.encode() + items[k][1])
            h.update(hashlib.sha256(raw).digest())
            digest = h.digest()
            made = self.by_digest.get(digest)
            if made is None:
                made = pikepdf.Stream(self.target, b"")
                filters = items.pop("/Filter", (None, b""))[0]
                parms = items.pop("/DecodeParms", (None, b""))[0]
                made.write(raw, filter=filters, decode_parms=parms, type_check=False)
                for k, (v, _) in items.items():
                    made[k] = v
                self.by_digest[digest] = made
        elif (
            isinstance(obj, (pikepdf.Array, pikepdf.Dictionary))
            and _REFERENCE.search(raw := obj.unparse(resolved=True)) is None
        ):
            # Nothing inside points elsewhere (a font's glyph widths, a box):
            # its written form is its content, copied and hashed in one go
            # instead of number by number (most of a letter's objects).
            made = pikepdf.Object.parse(raw)
            digest = hashlib.sha256(b"U" + raw).digest()
        elif isinstance(obj, pikepdf.Dictionary):
            items = {k: self.copy(v, memo) for k, v in obj.items()}
            h.update(b"D")
            for k in sorted(items):
                h.update(k.encode() + items[k][1])
            digest = h.digest()
            made = pikepdf.Dictionary({k: v for k, (v, _) in items.items()})
        elif isinstance(obj, pikepdf.Array):
            parts = [self.copy(v, memo) for v in obj]
            h.update(b"A")
            for _, d in parts:
                h.update(d)
            digest = h.digest()
            made = pikepdf.Array([v for v, _ in parts])
        else:
            # Scalars: Names and Strings are recreated (they carry their owner).
            if isinstance(obj, pikepdf.Name):
                obj = pikepdf.Name(str(obj))
            elif isinstance(obj, pikepdf.String):
                obj = pikepdf.String(bytes(obj))
            value = obj.unparse() if isinstance(obj, pikepdf.Object) else repr(obj).encode()
            h.update(type(obj).__name__.encode() + b":" + value)
            return obj, h.digest()
        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            if not isinstance(obj, pikepdf.Stream):
                # Indirect or not is part of what is copied: equal digests must
                # mean equal bytes, whichever PDF came first.
                digest = hashlib.sha256(b"I" + digest).digest()
                existing = self.by_digest.get(digest)
                if existing is None:
                    existing = self.by_digest[digest] = self.target.make_indirect(made)
                made = existing
            memo[obj.objgen] = (made, digest)
        return made, digest
