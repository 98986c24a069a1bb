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
import dataclasses
import hashlib
import logging
import os
import time
from pathlib import Path

from handoutgen.content.library import Library, load_library
from handoutgen.content.models import Document
from handoutgen.content.workspace import Workspace
from handoutgen.core.errors import DataError
from handoutgen.core.output import make_private_dir, remove_parts, write_atomic
from handoutgen.engine.raster import page_count
from handoutgen.mailing.chart import FIELD, STORED, Chart, WriteBacks
from handoutgen.mailing.manifest import (
    LOCK,
    MANIFEST,
    Existing,
    fingerprint,
    survey,
    write_manifest,
)
from handoutgen.mailing.printfile import PrintFile, merge_for_duplex
from handoutgen.mailing.recipients import (
    Recipient,
    RecipientList,
    RowProblem,
    load_recipients,
)
from handoutgen.mailing.settings import (
    MANIFEST_FIELDS,
    BatchInterrupted,
    BatchPlan,
    BatchReport,
    BatchSettings,
    Progress,
    RowResult,
)
from handoutgen.mailing.workers import edition_group, execute, min_shared_rows
from handoutgen.store.lock import FolderLock

log = logging.getLogger("handoutgen")

__all__ = [
    "BatchInterrupted",
    "BatchPlan",
    "BatchReport",
    "BatchSettings",
    "PrintFile",
    "RowProblem",
    "RowResult",
    "estimate",
    "merge_for_duplex",
    "plan_batch",
    "run_batch",
]


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
    if settings.errors is not None:
        from handoutgen.mailing.errorfile import check_errors_path

        check_errors_path(settings.errors)
        errors = settings.errors.resolve()
        if (
            errors == source
            or errors in written
            or (settings.merged is not None and errors == settings.merged.resolve())
        ):
            raise DataError(
                f"--errors {settings.errors}: would overwrite the recipient file or an output; "
                "pick another name"
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


def plan_batch(
    settings: BatchSettings,
    recipients: RecipientList,
    good: list[Recipient],
    existing: Existing | None,
    min_shared: int,
) -> BatchPlan:
    keys = [edition_group(r.request_fields(settings.document, None)) for r in good]
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
            **rec.request_fields(settings.document, settings.letter_date, settings.clinic),
            allow_draft=settings.allow_draft,
        )
        pages[n] = page_count(render(library, req, editions=False))
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


def draft_rows(library: Library, doc: Document, good: list[Recipient]) -> dict[int, str]:
    """Rows asking for a language whose translation is a draft (unreviewed
    machine translation, or stale): row -> message naming the record."""
    from handoutgen.render.context import DraftTranslation, language_gate

    out: dict[int, str] = {}
    verdicts: dict[tuple, bool] = {}
    for r in good:
        lang = r.fields.get("language")
        ids = tuple(r.fields.get("options") or doc.options)
        if not lang:
            continue
        if (lang, ids) not in verdicts:
            options = [library.options[i] for i in ids]
            try:
                language_gate(library, doc, options, lang, stale_ok=False)
                verdicts[(lang, ids)] = False
            except DraftTranslation:
                verdicts[(lang, ids)] = True
        if verdicts[(lang, ids)]:
            out[r.row] = (
                f"record '{r.id}': '{lang}' is a machine translation of this document that no "
                "qualified human translator has reviewed: not printed for patients (`handoutgen "
                "check` names the files; --allow-draft prints it marked 'Machine translation, "
                "not reviewed')"
            )
    return out


def run_batch(
    workspace: Workspace,
    settings: BatchSettings,
    progress: Progress | None = None,
    chart: Chart | None = None,
) -> BatchReport:
    """Validate every row, then render the good ones. Raises DataError on unusable input.

    ``chart`` fills rows that give a fhir_patient id and, with its write_back,
    stores each letter in the EHR (mailing/chart.py)."""
    start = time.perf_counter()
    if settings.resume and settings.overwrite:
        raise DataError("--resume keeps finished PDFs and --overwrite replaces them; pick one")
    if chart is not None and chart.write_back:
        # As `render --write-back`: a full render's bytes depend on the inputs
        # alone, so a rerun makes the same PDF and the EHR finds it.
        settings = dataclasses.replace(settings, editions=False)
    # A mailing's folders (output and merged file) are made private (0700)
    # with their parents, as tests/test_batch_integrity.py requires.
    library = load_library(workspace)
    doc = library.document(settings.document)
    if settings.clinic is not None:
        # An unknown clinic stops the batch before any row: never another clinic's number.
        from handoutgen.render.context import clinic_profile

        settings = dataclasses.replace(settings, clinic=clinic_profile(library, settings.clinic).id)
    profile = settings.clinic or doc.brand
    if profile and not settings.allow_draft:
        from handoutgen.quality.checks import check_profile

        wrong = check_profile(library, profile)
        if wrong:
            raise DataError(
                f"clinic profile '{profile}' cannot print: {'; '.join(map(str, wrong))}. "
                "Fix it (see `handoutgen check`); nothing was rendered"
            )
    recipients = load_recipients(
        settings.recipients,
        library,
        doc,
        settings.mapping,
        encoding=settings.encoding,
        max_bytes=settings.max_input_size,
        profile=settings.profile,
        address_style=settings.address_style,
        chart=chart,
    )
    good = list(recipients.good)
    problems = recipients.problems
    # A row whose options are more than a tri-fold or booklet holds is an invalid
    # row, in a dry run too (see fit.py).
    from handoutgen.quality.fit import unfit_rows

    unfit = unfit_rows(library, doc, good)
    if unfit:
        problems += [
            RowProblem(recipients.source, row, "options", m, recipients.records.get(row, ""))
            for row, m in unfit.items()
        ]
        for r in good:
            if r.row in unfit:
                recipients.raw[r.row] = dict(r.fields)  # as checked: the original is gone
        good = [r for r in good if r.row not in unfit]
    drafts = {} if settings.allow_draft else draft_rows(library, doc, good)
    if drafts:
        problems += [RowProblem(recipients.source, row, "language", m) for row, m in drafts.items()]
        good = [r for r in good if r.row not in drafts]
    # Set on the rows once they are judged: the error file keeps their own columns.
    if settings.large_print:
        for rec in good:
            rec.fields["large_print"] = True
    brand = library.brands.get(profile) if profile else None
    if brand is not None and brand.mailer_id and doc.kind == "letter":
        from handoutgen.mailing.imb import assign_barcodes, earlier_tracking, serial_base

        # The batch's block of serials: a resumed batch keeps the one its
        # manifest records; a dry run only looks at the counter.
        earlier = earlier_tracking(settings.out_dir) if settings.resume else None
        base = serial_base(workspace, brand, good, earlier, keep=not settings.dry_run)
        recipients.warnings += assign_barcodes(
            brand, good, recipients.source, recipients.records, base
        )
    if settings.sort == "zip":
        good.sort(key=lambda r: (r.fields.get("zip") or "", r.row))
    check_paths(settings, [r.id for r in good])
    fps = {r.id: fingerprint(r, settings, library.content_hash) for r in good}
    report = BatchReport(
        results=[], problems=problems, warnings=recipients.warnings, recipients=recipients
    )
    if settings.errors is not None:
        from handoutgen.mailing.errorfile import write_errors

        report.errors_written = write_errors(settings.errors, recipients, problems)
    if settings.dry_run:
        existing = survey(settings.out_dir, fps, verify=True) if settings.resume else None
        if existing is None and settings.out_dir.is_dir():
            existing = survey(settings.out_dir, fps, verify=False)
            existing.reusable.clear()
        report.plan = plan_batch(settings, recipients, good, existing, min_shared_rows())
        if settings.estimate:
            estimate(library, settings, good, report.plan)
        report.seconds = time.perf_counter() - start
        return report

    out_dir = settings.out_dir
    make_private_dir(out_dir)
    with contextlib.ExitStack() as stack:
        if settings.merged is not None:
            # The print file is this batch's for the whole run: another batch
            # (another -o) naming the same --merged file would replace it.
            make_private_dir(settings.merged.parent)
            held = stack.enter_context(
                FolderLock(
                    merged_lock(settings.merged),
                    what="batch",
                    target=f"the print file {settings.merged}",
                    note=f"output folder {out_dir.resolve()}",
                )
            )
            _stale(held)
        _stale(stack.enter_context(FolderLock(out_dir / LOCK, what="batch")))
        if chart is not None and chart.write_back:
            report.write_backs = WriteBacks(chart, library, settings.allow_draft)
        try:
            _run_locked(library, settings, good, fps, report, progress)
        finally:
            if report.rendered:  # even an interrupted batch handed some out
                _audit(library, settings, good, report)
    report.seconds = time.perf_counter() - start
    return report


def _audit(
    library: Library, settings: BatchSettings, good: list[Recipient], report: BatchReport
) -> None:
    """One audit row for the batch: document, content, languages and counts;
    no recipient's name, address or row."""
    from handoutgen.store.audit import record

    languages = sorted({str(r.fields.get("language") or "en") for r in good})
    sets = {tuple(r.fields.get("options") or ()) for r in good}
    record(
        library.workspace,
        action="batch",
        document=settings.document,
        options=[],
        language=",".join(languages),
        page_size="",
        large_print=settings.large_print,
        content_hash=library.content_hash,
        pages=sum(r.pages for r in report.results if r.status == "ok" and not r.resumed),
        copies=report.rendered,
        counts=(
            f"rendered={report.rendered} resumed={report.resumed} "
            f"invalid={len({p.row for p in report.problems})} option_sets={len(sets)}"
        ),
    )


def merged_lock(merged: Path) -> Path:
    """The lock file of a print file: next to it, hidden."""
    return merged.parent / f".{merged.name}.lock"


def _stale(lock: FolderLock) -> None:
    if lock.stale_pid:
        log.warning(
            "took over the lock of an earlier batch (pid %s) that ended without releasing it",
            lock.stale_pid,
        )


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
    tracking = {r.id: str(r.fields.get("imb_tracking") or "") for r in good}
    for rec in good:
        v = existing.reusable.get(rec.id) if settings.resume else None
        if v is not None:
            results[rec.id] = RowResult(
                rec.id,
                rec.row,
                "ok",
                v.pages,
                v.size,
                v.sha256,
                render=v.render,
                resumed=True,
                ehr=v.ehr,
            )
            results[rec.id].fingerprint = v.fingerprint
            results[rec.id].tracking = tracking.get(rec.id, "")
            report.resumed += 1
        else:
            todo.append(rec)
    report.changed = len(set(existing.changed) & set(fps)) if settings.resume else 0
    backs = report.write_backs
    by_id = {r.id: r for r in good}

    def write_back(rec_id: str, result: RowResult) -> None:
        """Store a letter the EHR lacks: a new one, or a kept one not "stored"."""
        rec = by_id[rec_id]
        if backs is not None and rec.fields.get(FIELD) and result.ehr != STORED:
            fields = rec.request_fields(settings.document, settings.letter_date, settings.clinic)
            result.ehr = backs.store(
                rec.row, rec_id, fields, rec.fields[FIELD], out_dir / f"{rec_id}.pdf"
            )

    for rec_id, result in results.items():  # kept by --resume, before any render
        write_back(rec_id, result)

    order = [r.id for r in good]
    # Invalid rows are named by the record's id where it is a safe one and no
    # mailed row has it (a duplicate); by row number otherwise.
    records = report.recipients.records if report.recipients else {}
    mailed = {i.casefold() for i in order}
    invalid_results = []
    for row in sorted(invalid):
        label = records.get(row, "")
        rid = label.rpartition(" ")[2] if label else ""
        if not rid or rid.casefold() in mailed:
            rid = f"row-{row}"
        mailed.add(rid.casefold())
        error = "; ".join(f"{p.field}: {p.message}" for p in problems if p.row == row)
        invalid_results.append(RowResult(rid, row, "invalid", error=f"row {row}: {error}"))
    manifest = out_dir / MANIFEST

    def final_manifest() -> None:
        write_manifest(manifest, [results[i] for i in order if i in results] + invalid_results)

    # The manifest is a journal while the run lasts: the rows kept from before,
    # then one line per finished row, appended and flushed after its PDF is in
    # place. A kill at any moment leaves every finished PDF vouched for, or
    # (if it landed between the two writes) not vouched for and so rendered again.
    write_manifest(manifest, list(results.values()))
    journal = open(manifest, "a", newline="", encoding="utf-8")  # noqa: SIM115
    writer = csv.DictWriter(journal, fieldnames=MANIFEST_FIELDS, lineterminator="\n")

    def record(result: RowResult) -> None:
        results[result.id] = result
        writer.writerow(result.manifest_row())
        journal.flush()
        os.fsync(journal.fileno())

    total = len(todo)
    done = failed = 0
    min_shared = min_shared_rows()
    # The print file is copied together as the PDFs come in, while the workers
    # render the next ones (written at the end, in the recipients' order).
    print_file = PrintFile() if settings.merged else None
    if progress:
        progress(0, total, 0)
    try:
        with contextlib.closing(execute(library, settings, todo)) as items:
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
                if result.status == "ok":
                    result.tracking = tracking.get(rec_id, "")
                    write_back(rec_id, result)
                record(result)
                report.peak_rss_kb = max(report.peak_rss_kb, item.get("rss_kb", 0))
                done += 1
                if progress:
                    progress(done, total, failed)
    except KeyboardInterrupt:
        # Every finished PDF is written and vouched for: say so, and how to go on.
        raise BatchInterrupted(report.rendered + report.resumed, total - done) from None
    finally:
        journal.close()
        # Whatever happened (even Ctrl-C), the manifest says what is on disk.
        final_manifest()

    report.results = [results[i] for i in order if i in results] + invalid_results
    if settings.merged:
        assert print_file is not None
        ok = [out_dir / f"{r.id}.pdf" for r in report.results if r.status == "ok"]
        report.merged_pages = print_file.write(ok, settings.merged)
