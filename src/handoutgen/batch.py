"""Mailings: one PDF per recipient, a manifest, and an optional merged print file.

The parent process alone writes files (each one atomically), so a crash or a
``kill -9`` leaves only finished PDFs; ``resume`` renders exactly the rows
without one and rebuilds the manifest from what is on disk. Rendering runs in
worker processes that are replaced after a number of documents (flat memory),
or on a dask.distributed cluster with the same task function.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .content import Library, load_library
from .errors import DataError, HandoutgenError
from .output import write_atomic
from .recipients import Recipient, RowProblem, load_recipients
from .workspace import Workspace

log = logging.getLogger("handoutgen")

MANIFEST_FIELDS = ("id", "status", "pages", "bytes", "sha256", "render", "error")


@dataclass
class BatchSettings:
    document: str
    recipients: Path
    out_dir: Path
    workers: int | None = None  # None: the number of cores
    merged: Path | None = None
    sort: Literal["input", "zip"] = "input"
    resume: bool = False
    dry_run: bool = False
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
    full_render: str = ""  # why this row was rendered in full instead of from an edition
    mode: str = ""  # "edition" or "full"; "" when resumed from disk

    def manifest_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "pages": self.pages or "",
            "bytes": self.size or "",
            "sha256": self.sha256,
            "render": f"full: {self.full_render}" if self.full_render else self.mode,
            "error": self.error,
        }


@dataclass
class BatchReport:
    results: list[RowResult]
    problems: list[RowProblem]
    rendered: int = 0
    resumed: int = 0
    from_editions: int = 0
    seconds: float = 0.0
    peak_rss_kb: int = 0

    @property
    def failed(self) -> int:
        return sum(r.status != "ok" for r in self.results)

    @property
    def pages(self) -> int:
        return sum(r.pages for r in self.results if r.status == "ok")

    @property
    def full_renders(self) -> list[RowResult]:
        """Rows that could have shared an edition but were rendered in full."""
        return [r for r in self.results if r.status == "ok" and r.full_render]


Progress = Callable[[int, int, int], None]  # (done, total, failed)


# -- worker side ---------------------------------------------------------------

_WORKER: dict[str, Any] = {}


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

    from .fonts import missing_glyphs
    from .render import make_request, render
    from .vdp import Outcome, render_many

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
        outcomes = [Outcome(reason=f"internal error: {type(exc).__name__}")] * len(requests)
    for (rid, row, fields, _), outcome in zip(requests, outcomes, strict=False):
        if outcome.error is not None:
            out.append({"id": rid, "row": row, "error": outcome.error.format_message()})
            continue
        if outcome.pdf is None:
            out.append({"id": rid, "row": row, "error": outcome.reason or "internal error"})
            continue
        personal = " ".join(str(fields.get(k) or "") for k in _GLYPH_FIELDS)
        out.append(
            {
                "id": rid,
                "row": row,
                "pdf": outcome.pdf,
                "pages": outcome.pages or _page_count(outcome.pdf),
                "missing": missing_glyphs(personal),
                "mode": outcome.mode,
                "reason": outcome.reason if outcome.mode == "full" and editions else "",
            }
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for item in out:
        item["rss_kb"] = rss
    return out


_GLYPH_FIELDS = ("first_name", "last_name", "address1", "address2", "city", "note", "clinician")


def _page_count(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


# -- client side -----------------------------------------------------------------


def run_batch(
    workspace: Workspace, settings: BatchSettings, progress: Progress | None = None
) -> BatchReport:
    """Validate every row, then render the good ones. Raises DataError on unusable input."""
    start = time.perf_counter()
    library = load_library(workspace)
    doc = library.document(settings.document)
    good, problems = load_recipients(settings.recipients, library, doc, settings.mapping)
    if settings.sort == "zip":
        good.sort(key=lambda r: (r.fields.get("zip") or "", r.row))
    report = BatchReport(results=[], problems=problems)
    invalid = {p.row for p in problems}
    if settings.dry_run:
        report.seconds = time.perf_counter() - start
        return report

    out_dir = settings.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    # A crash can leave write_atomic's temporary files behind; they are never
    # finished output, so they go.
    for stale in out_dir.glob(".*.part"):
        stale.unlink(missing_ok=True)
    results: dict[str, RowResult] = {}
    todo: list[Recipient] = []
    for rec in good:
        path = out_dir / f"{rec.id}.pdf"
        if settings.resume and path.is_file():
            results[rec.id] = _result_from_disk(rec, path)
            report.resumed += 1
        else:
            todo.append(rec)

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

    def write_manifest() -> None:
        rows = [results[i] for i in order if i in results] + invalid_results
        _write_manifest(out_dir / "manifest.csv", rows)

    total = len(todo)
    done = failed = 0
    last_manifest = time.monotonic()
    if progress:
        progress(0, total, 0)
    try:
        for item in _execute(library, settings, todo):
            rec_id = item["id"]
            if "error" in item:
                results[rec_id] = RowResult(rec_id, item["row"], "failed", error=item["error"])
                failed += 1
                log.warning("row %s (id %s): failed: %s", item["row"], rec_id, item["error"])
            else:
                pdf = item["pdf"]
                write_atomic(out_dir / f"{rec_id}.pdf", pdf)
                results[rec_id] = RowResult(
                    rec_id,
                    item["row"],
                    "ok",
                    item["pages"],
                    len(pdf),
                    hashlib.sha256(pdf).hexdigest(),
                    missing_glyphs=item["missing"],
                    full_render=item.get("reason", ""),
                    mode=item.get("mode", ""),
                )
                report.rendered += 1
                report.from_editions += item.get("mode") == "edition"
                if item["missing"]:
                    log.warning(
                        "row %s (id %s): no installed font can draw %s; they print as empty boxes",
                        item["row"],
                        rec_id,
                        " ".join(item["missing"]),
                    )
            report.peak_rss_kb = max(report.peak_rss_kb, item.get("rss_kb", 0))
            done += 1
            if progress:
                progress(done, total, failed)
            if time.monotonic() - last_manifest > 2:
                write_manifest()
                last_manifest = time.monotonic()
    finally:
        # Whatever happened (even Ctrl-C), the manifest says what is on disk.
        write_manifest()

    report.results = [results[i] for i in order if i in results] + invalid_results
    if settings.merged:
        ok = [out_dir / f"{r.id}.pdf" for r in report.results if r.status == "ok"]
        merge_for_duplex(ok, settings.merged)
    report.seconds = time.perf_counter() - start
    return report


def _result_from_disk(rec: Recipient, path: Path) -> RowResult:
    data = path.read_bytes()
    return RowResult(
        rec.id, rec.row, "ok", _page_count(data), len(data), hashlib.sha256(data).hexdigest()
    )


def _write_manifest(path: Path, rows: list[RowResult]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r.manifest_row())
    write_atomic(path, buf.getvalue().encode("utf-8"))


# Building an edition costs about two full renders (layout, then its
# self-check), so it pays from three recipients on.
MIN_SHARED = 3


def _chunks(settings: BatchSettings, todo: list[Recipient]):
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
    singles = [item for key, item in zip(keys, items, strict=True) if len(groups[key]) < MIN_SHARED]
    per_group = [
        [members[i : i + size] for i in range(0, len(members), size)]
        for _, members in sorted(groups.items(), key=lambda kv: repr(kv[0]))
        if len(members) >= MIN_SHARED
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
) -> Iterator[dict[str, Any]]:
    if not todo:
        return
    root = str(library.workspace.root)
    args = (root, library.content_hash, settings.document)
    chunks = list(_chunks(settings, todo))  # (items, use editions)
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
    with ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=per_child) as pool:
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
    import pikepdf

    merged = pikepdf.Pdf.new()
    interner = _Interner(merged)
    for path in paths:
        with pikepdf.open(path) as src:
            memo: dict[tuple[int, int], Any] = {}
            for page in src.pages:
                merged.pages.append(interner.page(page.obj, memo))
            if len(src.pages) % 2:
                box = src.pages[-1].mediabox
                merged.add_blank_page(page_size=(float(box[2]), float(box[3])))
    buf = io.BytesIO()
    merged.save(buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    write_atomic(target, buf.getvalue())
    return len(merged.pages)


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
                existing = self.by_digest.get(digest)
                if existing is None:
                    existing = self.by_digest[digest] = self.target.make_indirect(made)
                made = existing
            memo[obj.objgen] = (made, digest)
        return made, digest
