"""Commands on the content: render, validate, check, list, preview, warm,
translations."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from handoutgen.cli.base import _DATE, _day, _language, _library, cli, limit_options
from handoutgen.cli.ehr import fhir_options
from handoutgen.cli.ehr import start as ehr_start
from handoutgen.core.errors import HandoutgenError


@cli.command()
@click.argument("document")
@click.option("--patient", metavar="NAME", help="Patient's name, printed on every page.")
@click.option("--visit-date", type=_DATE, metavar="YYYY-MM-DD", help="Date of the visit.")
@click.option("--clinician", metavar="NAME", help="Clinician who signs the note.")
@click.option(
    "--clinic",
    metavar="ID|NAME",
    help="The clinic profile (handouts/brands/ID.yaml, or its exact name): its name, phone "
    "and address print. Default: the document's brand:, else none (a line to write the "
    "phone in).",
)
@click.option(
    "--option",
    "options",
    metavar="ID",
    multiple=True,
    help="An option to include (repeat it), one the document offers (`list` shows them); "
    "default: the document's options.",
)
@click.option("--note", metavar="TEXT", help="A personal note; line breaks become paragraphs.")
@click.option(
    "--page-size",
    type=click.Choice(["letter", "a4"], case_sensitive=False),
    help="Paper size; default: the document's page_size (letter).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "html", "png"], case_sensitive=False),
    help="pdf (default); html (one self-contained file); png (all pages, stacked).",
)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="Where to write; '-' for standard output. Default: output/DOCUMENT.FORMAT in the workspace.",
)
@click.option("--strict", is_flag=True, help="Fail on any rendering warning.")
@click.option(
    "--allow-http",
    is_flag=True,
    help="Let templates and styles load http(s) URLs (off: a handout is made offline).",
)
@click.option(
    "--allow-draft",
    is_flag=True,
    help="Render even if `handoutgen check` finds errors; every page says DRAFT.",
)
@click.option("--large-print", is_flag=True, help="18 pt text, one column, no wide tables.")
@click.option("--brand", metavar="ID", help="The clinic profile's id, as --clinic.")
@click.option(
    "--print-ready",
    is_flag=True,
    help="For a print shop: 0.125 in bleed, crop marks outside it, fold marks on a tri-fold.",
)
@click.option(
    "--impose",
    is_flag=True,
    help="Booklets: write printer spreads (two pages to a landscape letter sheet, or A4 "
    "with --page-size a4) to print on both sides, flipping on the short edge, fold and staple.",
)
@click.option(
    "--pdf-variant",
    type=click.Choice(["pdf/ua-1", "pdf/a-3u", "pdf/x-4"], case_sensitive=False),
    help="Tagged PDF/UA-1 (accessible, the default), PDF/A-3u (archival, also tagged) or "
    "PDF/X-4 (print shop: CMYK output intent; with --print-ready).",
)
@click.option(
    "--language",
    metavar="CODE",
    callback=_language,
    help="Language code (es, zh, ar...; any case); default: the document's (en), or the "
    "patient's with --fhir-patient. `list` shows them.",
)
@fhir_options
@limit_options("template_seconds", "template_max_mb")
@click.pass_context
def render(
    ctx: click.Context,
    document: str,
    patient: str | None,
    visit_date: dt.datetime | None,
    clinician: str | None,
    clinic: str | None,
    options: tuple[str, ...],
    note: str | None,
    page_size: str | None,
    fmt: str | None,
    output: str | None,
    strict: bool,
    allow_http: bool,
    allow_draft: bool,
    large_print: bool,
    pdf_variant: str | None,
    brand: str | None,
    print_ready: bool,
    impose: bool,
    language: str | None,
    fhir_server: str | None,
    fhir_client_id: str | None,
    fhir_patient: str | None,
    fhir_encounter: str | None,
    write_back: bool,
    teach_back: str | None,
) -> None:
    """Render DOCUMENT for one patient as PDF, HTML or PNG.

    With --fhir-patient the name and language come from the EHR's record, and
    --write-back stores the PDF there (README: FHIR write-back)."""
    from handoutgen.content.workspace import display_path
    from handoutgen.core.output import require_parent, write_atomic
    from handoutgen.pipeline import make_request, plan
    from handoutgen.pipeline import render as do_render

    if output not in (None, "-"):
        require_parent(Path(output))  # before any work; the default output/ is made
    run = ehr_start(
        ctx,
        server=fhir_server,
        client_id=fhir_client_id,
        patient_id=fhir_patient,
        encounter=fhir_encounter,
        write_back=write_back,
        teach_back=teach_back,
        patient=patient,
        fmt=fmt,
        output=output,
    )
    library = _library(ctx)
    if run is not None:  # before the render: a record we cannot use costs nothing
        patient, language = run.fill(ctx, document, language)
    request = make_request(
        document=document,
        options=options or None,
        patient=patient,
        visit_date=_day(visit_date),
        clinician=clinician,
        clinic=clinic,
        note=note,
        page_size=page_size,
        format=fmt,
        strict=strict,
        allow_http=allow_http,
        allow_draft=allow_draft,
        large_print=large_print,
        pdf_variant=pdf_variant,
        brand=brand,
        print_ready=print_ready,
        language=language,
    )
    if impose:  # refused before any work: a handout, HTML, print-ready
        from handoutgen.editions.imposition import impose as make_spreads
        from handoutgen.editions.imposition import require_imposable

        doc = library.document(document)
        require_imposable(doc, request.format, request.print_ready)
    # A write-back renders in full: its bytes then depend on the inputs alone
    # (not on whether an edition was cached), so a retry finds the same PDF.
    p = plan(library, request)  # resolved once: the render and its audit row share it
    data = do_render(library, p, editions=not (run and run.write_back))
    if impose:
        data = make_spreads(data, p.page_size)
    _audit_render(library, p, data)  # no handout without its audit row
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    # Defaults live in RenderRequest; the flags only override them.
    default_name = f"{document}.{request.format}"
    path = Path(output) if output else library.workspace.root / "output" / default_name
    write_atomic(path, data)
    if not ctx.obj["quiet"]:
        click.echo(f"Wrote {display_path(path.resolve())} ({len(data) / 1024:.0f} KB)", err=True)
    if run is not None and run.write_back:
        run.store(ctx, request, data, path, request.clinician)


def _audit_render(library, p, data: bytes) -> None:  # noqa: ANN001 - lazy imports
    """One audit row for a CLI render: what and from which content, never for whom."""
    from handoutgen.store.audit import record

    request = p.request
    pages = 0
    if request.format == "pdf":
        from handoutgen.engine.raster import page_count

        pages = page_count(data)
    record(
        library.workspace,
        action=f"cli-{request.format}",
        document=p.document.id,
        options=[o.id for o in p.options],
        language=p.language,
        page_size=p.page_size,
        large_print=request.large_print,
        content_hash=library.content_hash,
        pages=pages,
    )


@cli.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check every content file and report all problems at once."""
    library = _library(ctx)
    if not ctx.obj["quiet"]:
        click.echo(
            f"OK: {len(library.documents)} documents and {len(library.options)} options are valid.",
            err=True,
        )


@cli.command()
@click.argument("documents", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--option",
    "options",
    multiple=True,
    help="Check the documents with these options, as `render --option` would print them.",
)
@click.option(
    "--report",
    is_flag=True,
    help="Print the IPDAS and PEMAT-P items a program can judge, met or not, per document.",
)
@click.pass_context
def check(
    ctx: click.Context,
    documents: tuple[str, ...],
    as_json: bool,
    options: tuple[str, ...],
    report: bool,
) -> None:
    """Check content against the patient-safety standards (reading level, balance,
    sources, review dates, required parts, claims). Exits 1 on any error."""
    from handoutgen.quality.checks import check as run_check

    library = _library(ctx)
    if report:
        from handoutgen.quality.report import print_report

        print_report(library, list(documents) or None, options or None, as_json=as_json)
        return
    from handoutgen.content.approval import approval_state

    findings = run_check(library, list(documents) or None, options=options or None)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    states = {d: approval_state(library, d) for d in (documents or sorted(library.documents))}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "findings": [f.as_dict() for f in findings],
                    "errors": errors,
                    "warnings": warnings,
                    "approval": {d: s.as_dict() for d, s in states.items()},
                },
                indent=2,
            )
        )
    else:
        for finding in findings:
            click.echo(str(finding))
        if not ctx.obj["quiet"]:
            for doc_id, state in states.items():
                hint = (
                    ""
                    if state.state == "approved"
                    else f" (`handoutgen approve {doc_id} --by NAME` after review)"
                )
                click.echo(f"{doc_id}: {state.describe()}{hint}", err=True)
            click.echo(
                f"{errors} error{'s' if errors != 1 else ''}, "
                f"{warnings} warning{'s' if warnings != 1 else ''}.",
                err=True,
            )
    if errors:
        ctx.exit(1)


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List the documents and options with their titles."""
    from handoutgen.content.models import DEFAULT_LANGUAGE

    library = _library(ctx)
    from handoutgen.content.approval import approval_state
    from handoutgen.render.context import document_languages

    docs = [
        {
            "id": d.id,
            "title": d.title[DEFAULT_LANGUAGE],
            "kind": d.kind,
            "languages": document_languages(library, d.id),
            "offers": d.offered,
            "approval": approval_state(library, d.id).as_dict(),
        }
        for d in library.documents.values()
    ]
    opts = [{"id": o.id, "title": o.title[DEFAULT_LANGUAGE]} for o in library.options.values()]
    if as_json:
        click.echo(json.dumps({"documents": docs, "options": opts}, indent=2, ensure_ascii=False))
        return
    click.echo("Documents:")
    for d in docs:
        state = d["approval"]["state"]
        click.echo(
            f"  {d['id']:<28} {d['kind']:<9} {state:<9} {d['title']}  [{' '.join(d['languages'])}]"
        )
        click.echo(f"  {'':<28} offers: {', '.join(d['offers'])}")
    click.echo("Options:")
    for o in opts:
        click.echo(f"  {o['id']:<28} {o['title']}")


@cli.command()
@click.argument("document")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for DOCUMENT-1.png, DOCUMENT-2.png, ... (needed unless --serve).",
)
@click.option(
    "--watch", is_flag=True, help="Re-render whenever a YAML, template, style or image changes."
)
@click.option(
    "--serve",
    is_flag=True,
    help="Instead of PNG files, serve a page on this machine (127.0.0.1) that shows the "
    "pages and reloads itself when a workspace file changes; prints its address.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="The port for --serve (0: any free port).",
)
@click.option(
    "--dpi",
    type=click.IntRange(20, 300),
    default=72,
    show_default=True,
    help="Resolution of the PNG pages.",
)
@click.option(
    "--clinic",
    metavar="ID|NAME",
    help="The clinic profile to show (handouts/brands/); default: the document's brand:.",
)
@click.option("--brand", metavar="ID", help="The clinic profile's id, as --clinic.")
@click.pass_context
def preview(
    ctx: click.Context,
    document: str,
    out_dir: Path | None,
    watch: bool,
    serve: bool,
    port: int,
    dpi: int,
    clinic: str | None,
    brand: str | None,
) -> None:
    """Write DOCUMENT as PNG pages for designers; --watch keeps them current,
    --serve shows them on a page in the browser that reloads itself."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.preview import render_preview
    from handoutgen.web.preview import watch as watch_loop

    workspace = Workspace.at(ctx.obj["workspace"])
    if serve:
        flags = {"out_dir": "-o", "watch": "--watch", "dpi": "--dpi", "clinic": "--clinic"}
        flags["brand"] = "--brand"
        given = [flag for name, flag in flags.items() if _given(ctx, name)]
        if given:
            raise click.UsageError(
                f"--serve shows the document as it is (its own brand, on screen): "
                f"leave out {', '.join(given)}"
            )
        _serve_preview(ctx, workspace, document, port)
        return
    if _given(ctx, "port"):
        raise click.UsageError("--port is for --serve")
    if out_dir is None:
        raise click.UsageError("give -o DIR for the PNG pages, or --serve for a browser page")
    options: dict[str, Any] = {"dpi": dpi}
    options.update({k: v for k, v in (("clinic", clinic), ("brand", brand)) if v})
    if not watch:
        pages = render_preview(workspace, document, out_dir, **options)
        if not ctx.obj["quiet"]:
            click.echo(f"Wrote {len(pages)} page(s) to {out_dir}", err=True)
        return
    # Where the pages are: a designer opens these files and keeps them open.
    pages_at = out_dir.resolve() / f"{document}-N.png"
    click.echo(
        f"Watching {workspace.root} (Ctrl-C to stop); the pages are "
        f"{pages_at} (N = 1, 2, ...), rewritten after every change",
        err=True,
    )
    try:
        watch_loop(workspace, document, out_dir, lambda msg: click.echo(msg, err=True), **options)
    except KeyboardInterrupt:
        pass


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the command line (not a default) gave this parameter."""
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


def _serve_preview(ctx: click.Context, workspace: Any, document: str, port: int) -> None:
    """``preview --serve``: the designer page of ``serve``, on loopback only."""
    from urllib.parse import quote

    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import display_path
    from handoutgen.web.app import ServeConfig
    from handoutgen.web.app import serve as run_server

    try:
        library = load_library(workspace)
    except HandoutgenError:
        library = None  # a broken edit: the page shows the error until it is fixed
    if library is not None and document not in library.documents:
        raise HandoutgenError(
            f"no document {document!r} in {display_path(workspace.handouts_dir)}; "
            f"the documents are: {', '.join(sorted(library.documents))}"
        )
    # Loopback only, so nobody signs in; one render worker is plenty for one
    # designer, and no editions are warmed (a preview never uses them).
    config = ServeConfig(host="127.0.0.1", port=port, workers=1, warm=False)

    def ready() -> None:
        # Printed even with --quiet: with --port 0 it is the only way to the page.
        click.echo(
            f"Previewing {document} at http://127.0.0.1:{config.port}/design/{quote(document)} "
            "(it reloads when a workspace file changes; Ctrl-C stops)",
            err=True,
        )

    run_server(workspace, config, on_ready=ready)


# -- warm (issue 18) --------------------------------------------------------------------


@cli.command()
@click.argument("documents", nargs=-1, metavar="[DOC]...")
@click.option(
    "--clinic",
    "clinics",
    metavar="NAME",
    multiple=True,
    help="Also warm for this clinic profile (id or name; repeat it): its name and numbers "
    "are printed on the shared pages.",
)
@click.pass_context
def warm(ctx: click.Context, documents: tuple[str, ...], clinics: tuple[str, ...]) -> None:
    """Build the cached shared pages (editions) that `render` assembles from.

    For each DOC (default: every document) with its own options, and the
    usual fields (name, visit date, clinician, with and without a note).
    Only stand-in values are laid out: the cache holds no patient data."""
    from handoutgen.pipeline import warm as do_warm
    from handoutgen.store import cache

    if cache.open_cache() is None:
        raise HandoutgenError(
            f"the cache is {cache.info()['status']}: warm has nowhere to keep the editions "
            "(set HANDOUTGEN_CACHE_DIR to a private folder)"
        )
    library = _library(ctx)
    for doc in documents:
        library.document(doc)  # an unknown id fails here, before any work
    results = do_warm(library, list(documents) or None, list(clinics) or None)
    for doc, w in results.items():
        if not w.tried:
            click.echo(f"{doc}: no editions; it renders in full ({'; '.join(w.reasons)})", err=True)
            continue
        why = f" (the rest render in full: {'; '.join(w.reasons)})" if w.reasons else ""
        if not ctx.obj["quiet"] or w.made < w.tried:
            click.echo(f"{doc}: {w.made} of {w.tried} editions ready{why}", err=True)


@cli.group(name="translations")
def translations_group() -> None:
    """Translation files (handouts/translations/<lang>/): their records."""


@translations_group.command(name="stamp")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def translations_stamp(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Record that each FILE matches its English source as it is now (the hash
    of the English text, per field). Run it after updating a translation."""
    from handoutgen.content.translations import stamp
    from handoutgen.core.errors import DataError

    library = _library(ctx)
    errors = []
    for path in files:
        try:
            shown, changed = stamp(library, path)
        except DataError as exc:
            errors.append(exc.format_message())
            continue
        if not ctx.obj["quiet"]:
            click.echo(f"{'Stamped' if changed else 'Already stamped'}: {shown}", err=True)
    if errors:
        raise DataError("\n".join(errors))


@translations_group.command(name="review")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--by",
    "reviewer",
    required=True,
    metavar="NAME",
    help='The qualified human translator, with credentials ("Ana Example, CHI-Spanish").',
)
@click.pass_context
def translations_review(ctx: click.Context, file: Path, reviewer: str) -> None:
    """Record that a qualified human translator reviewed FILE as it reads now.

    Writes the reviewer and the hashes of the English and the translated text
    into the file's record; an edit to either later makes it unreviewed again.
    Refused while `check` finds errors in the file."""
    import datetime as dt

    from handoutgen.content.translationreview import review
    from handoutgen.core.errors import DataError
    from handoutgen.quality.translationrules import translation_findings

    library = _library(ctx)
    shown = library.workspace.display(file.resolve())
    errors = [
        f
        for f in translation_findings(library)
        # Staleness and the review record are what this command settles.
        if f.severity == "error"
        and f.path == shown
        and f.rule not in ("translation-review", "translation-stale")
    ]
    if errors:
        listed = "; ".join(str(e) for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise DataError(
            f"{shown}: fix what `check` finds before recording a review: {listed}{more}"
        )
    shown, name, at = review(library, file, reviewer, dt.datetime.now(dt.UTC))
    if not ctx.obj["quiet"]:
        click.echo(f"Reviewed: {shown} by {name}, {at}", err=True)


@cli.command()
@click.argument("document")
@click.option(
    "--by",
    "approver",
    required=True,
    metavar="NAME",
    help='Who approves, with credentials ("Dr. Sam Rivera, MD").',
)
@click.pass_context
def approve(ctx: click.Context, document: str, approver: str) -> None:
    """Record that the clinic approved DOCUMENT as it reads now.

    The record (handouts/approvals/DOCUMENT.yaml) holds who, when and a hash of
    everything a patient reads in it; any later edit makes it pending again."""
    import datetime as dt

    from handoutgen.api import open_workspace

    ws = open_workspace(ctx.obj["workspace"])
    record = ws.approve(document, by=approver, now=dt.datetime.now(dt.UTC))
    click.echo(
        f"Approved {document}: {record.by}, {record.at} (text sha256 {record.sha256[:12]}...)",
        err=True,
    )
