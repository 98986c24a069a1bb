"""The ``handoutgen`` command: parses options and calls the library.

WeasyPrint and the content models are imported inside commands so that
``--help`` answers at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import sys
from pathlib import Path

import click

from handoutgen.core.errors import HandoutgenError
from handoutgen.core.version import __version__

log = logging.getLogger("handoutgen")


class _ClickHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        click.echo(f"{prefix}{record.getMessage()}", err=True)


def _setup_logging(verbose: int, quiet: bool) -> None:
    """Set the log level; called by the group and again by a subcommand given
    -v or -q after its name (README: both places work)."""
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    handler = _ClickHandler()
    for name in ("handoutgen", "weasyprint"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, _ClickHandler)]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


class _Group(click.Group):
    """Turns unexpected exceptions into one ``Error:`` line unless --debug."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            if ctx.meta.get("handoutgen.debug"):
                raise
            raise HandoutgenError(
                f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
            ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="handoutgen")
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default="the current folder",
    help="Folder with handouts/, templates/ and styles/.",
)
@click.option("-v", "--verbose", count=True, help="Show more (-vv for debug output).")
@click.option("-q", "--quiet", is_flag=True, help="Show only errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, workspace: Path, verbose: int, quiet: bool, debug: bool) -> None:
    """Turn reviewed medical content into personalized, printable PDF handouts."""
    _setup_logging(verbose, quiet)
    ctx.meta["handoutgen.debug"] = debug
    ctx.obj = {"workspace": workspace, "quiet": quiet, "verbose": verbose}


def _verbosity_after(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """-v/-q given after the subcommand's name: added to those given before it."""
    if ctx.get_parameter_source(param.name or "") in (None, click.core.ParameterSource.DEFAULT):
        return
    obj = ctx.ensure_object(dict)
    if param.name == "verbose":
        obj["verbose"] = obj.get("verbose", 0) + int(value)  # type: ignore[call-overload]
    else:
        obj["quiet"] = True
    _setup_logging(obj.get("verbose", 0), obj.get("quiet", False))


def _verbosity_options() -> list[click.Option]:
    return [
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_verbosity_after,
            help="Show more (-vv for debug output).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_verbosity_after,
            help="Show only errors.",
        ),
    ]


def _language(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A language code in any case, made canonical ('ES' -> 'es'); a malformed
    one is a usage error. Whether the document has it is the library's call."""
    from handoutgen.content.models import normalize_language

    if value is None:
        return None
    try:
        return normalize_language(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _day(value: dt.datetime | None) -> dt.date | None:
    """click.DateTime gives a datetime; the library takes a date."""
    return value.date() if value is not None else None


_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _library(ctx: click.Context):
    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace

    return load_library(Workspace.at(ctx.obj["workspace"]))


@cli.command()
@click.argument("document")
@click.option("--patient", metavar="NAME", help="Patient's name, printed on every page.")
@click.option("--visit-date", type=_DATE, metavar="YYYY-MM-DD", help="Date of the visit.")
@click.option("--clinician", metavar="NAME", help="Clinician who signs the note.")
@click.option("--clinic", metavar="NAME", help="Clinic name (also the PDF author).")
@click.option(
    "--option",
    "options",
    metavar="ID",
    multiple=True,
    help="An option to include (repeat it); default: the document's options.",
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
@click.option("--brand", metavar="ID", help="Brand from handouts/brands/; default: the document's.")
@click.option("--print-ready", is_flag=True, help="0.125 in bleed and crop marks for a print shop.")
@click.option(
    "--pdf-variant",
    type=click.Choice(["pdf/ua-1", "pdf/a-3u"], case_sensitive=False),
    help="Tagged PDF/UA-1 (accessible, the default) or PDF/A-3u (archival, also tagged).",
)
@click.option(
    "--language",
    metavar="CODE",
    callback=_language,
    help="Language code (es, zh, ar...; any case); default: the document's (en). "
    "`list` shows them.",
)
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
    language: str | None,
) -> None:
    """Render DOCUMENT for one patient as PDF, HTML or PNG."""
    from handoutgen.content.workspace import display_path
    from handoutgen.core.output import require_parent, write_atomic
    from handoutgen.pipeline import make_request
    from handoutgen.pipeline import render as do_render

    if output not in (None, "-"):
        require_parent(Path(output))  # before any work; the default output/ is made
    library = _library(ctx)
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
    data = do_render(library, request)
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
    findings = run_check(library, list(documents) or None, options=options or None)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if as_json:
        click.echo(
            json.dumps(
                {
                    "findings": [f.as_dict() for f in findings],
                    "errors": errors,
                    "warnings": warnings,
                },
                indent=2,
            )
        )
    else:
        for finding in findings:
            click.echo(str(finding))
        if not ctx.obj["quiet"]:
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
    from handoutgen.render.context import document_languages

    docs = [
        {
            "id": d.id,
            "title": d.title[DEFAULT_LANGUAGE],
            "kind": d.kind,
            "languages": document_languages(library, d.id),
        }
        for d in library.documents.values()
    ]
    opts = [{"id": o.id, "title": o.title[DEFAULT_LANGUAGE]} for o in library.options.values()]
    if as_json:
        click.echo(json.dumps({"documents": docs, "options": opts}, indent=2, ensure_ascii=False))
        return
    click.echo("Documents:")
    for d in docs:
        click.echo(f"  {d['id']:<28} {d['kind']:<9} {d['title']}  [{' '.join(d['languages'])}]")
    click.echo("Options:")
    for o in opts:
        click.echo(f"  {o['id']:<28} {o['title']}")


@cli.command()
@click.argument("document")
@click.argument("recipients", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for DIR/<id>.pdf and DIR/manifest.csv.",
)
@click.option(
    "--workers", type=click.IntRange(1, 256), help="Worker processes; default: the number of cores."
)
@click.option(
    "--merged",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one print file, padded for duplex.",
)
@click.option(
    "--sort",
    type=click.Choice(["input", "zip"], case_sensitive=False),
    default="input",
    show_default=True,
    help="Order of the manifest and the merged file.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the PDFs in DIR that the manifest vouches for with the same input and "
    "settings; render the rest (changed rows included).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the PDFs of an earlier run in DIR instead of refusing to mix with them.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every row and show the plan (columns, groups, pages, time); render nothing.",
)
@click.option(
    "--encoding",
    default="utf-8-sig",
    show_default=True,
    help="Text encoding of a CSV file, e.g. cp1252 for older Excel exports.",
)
@click.option(
    "--max-input-size",
    default="200MB",
    show_default=True,
    metavar="SIZE",
    help="Refuse recipient files (XLSX: unpacked) larger than this, e.g. 500MB or 1GB.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on a dask.distributed cluster, e.g. tcp://host:8786.",
)
@click.option(
    "--map",
    "maps",
    metavar="COLUMN=FIELD",
    multiple=True,
    help="Read another column name as a field, e.g. 'MRN=id'.",
)
@click.option(
    "--letter-date",
    type=_DATE,
    metavar="YYYY-MM-DD",
    help="Date printed on the letters; default: today.",
)
@click.option(
    "--allow-draft", is_flag=True, help="Render even if content checks find errors (marked DRAFT)."
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 1000),
    help="Recipients per work unit; default: 24 (4 with --full-render).",
)
@click.option(
    "--full-render",
    is_flag=True,
    help="Render every document in full instead of stamping recipients on shared editions.",
)
@click.pass_context
def batch(
    ctx: click.Context,
    document: str,
    recipients: Path,
    out_dir: Path,
    workers: int | None,
    merged: Path | None,
    sort: str,
    resume: bool,
    overwrite: bool,
    dry_run: bool,
    encoding: str,
    max_input_size: str,
    scheduler: str | None,
    maps: tuple[str, ...],
    letter_date: dt.datetime | None,
    allow_draft: bool,
    chunk_size: int | None,
    full_render: bool,
) -> None:
    """Render DOCUMENT for every row of RECIPIENTS (CSV, XLSX, JSON or YAML).

    Pages that are the same for many recipients (an edition: same options,
    language and page size) are laid out once and cached; each recipient's
    letter, name and page numbers are stamped on them. Rows that cannot share
    an edition are rendered in full, and the summary says which and why."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.mailing.batch import BatchSettings, run_batch
    from handoutgen.mailing.recipients import parse_map

    date = _day(letter_date) or _today()
    settings = BatchSettings(
        document=document,
        recipients=recipients,
        out_dir=out_dir,
        workers=workers,
        merged=merged,
        sort="zip" if sort == "zip" else "input",
        resume=resume,
        overwrite=overwrite,
        dry_run=dry_run,
        encoding=encoding,
        max_input_size=_size(max_input_size, "--max-input-size"),
        scheduler=scheduler,
        mapping=parse_map(maps),
        letter_date=date,
        allow_draft=allow_draft,
        editions=not full_render,
        chunk_size=chunk_size,
    )
    with _terminate_as_exit(), _progress(ctx.obj["quiet"] or dry_run) as progress:
        report = run_batch(Workspace.at(ctx.obj["workspace"]), settings, progress)
    for problem in report.problems:
        click.echo(f"Error: {problem}", err=True)
    for warning in report.warnings:
        log.warning("%s", warning)
    if dry_run:
        if not ctx.obj["quiet"] and report.plan is not None:
            _show_plan(report.plan, settings)
        n = len(report.problems)
        if n:
            raise HandoutgenError(f"{n} problem{'s' if n != 1 else ''} found; nothing rendered")
        if not ctx.obj["quiet"]:
            click.echo("OK: every row is valid; nothing rendered (--dry-run).", err=True)
        return
    if not ctx.obj["quiet"]:
        rate = report.rendered / report.seconds if report.seconds else 0
        click.echo(
            f"Rendered {report.rendered}, resumed {report.resumed}, failed {report.failed}; "
            f"{report.pages} pages in {report.seconds:.1f} s ({rate:.1f} documents/s). "
            f"Manifest: {out_dir / 'manifest.csv'}",
            err=True,
        )
        if resume:
            click.echo(
                f"Resume: kept {_n(report.resumed, 'finished PDF')}; "
                f"{_n(report.changed, 'row')} had changed since {'its' if report.changed == 1 else 'their'} "
                "PDF and {} rendered again.".format("was" if report.changed == 1 else "were"),
                err=True,
            )
        if not full_render and report.rendered:
            fallbacks = report.full_renders
            full = report.rendered - report.from_editions
            click.echo(
                f"{report.from_editions} from shared editions, {full} rendered in full"
                + (f"; {len(fallbacks)} of them could not use an edition:" if fallbacks else "."),
                err=True,
            )
            for r in fallbacks[:10]:
                click.echo(f"  row {r.row} (id {r.id}): {r.full_render}", err=True)
            if len(fallbacks) > 10:
                click.echo(f"  ... and {len(fallbacks) - 10} more (see the manifest)", err=True)
    if report.failed:
        raise HandoutgenError(
            f"{report.failed} row{'s' if report.failed != 1 else ''} failed (see the manifest)"
        )


def _size(text: str, flag: str) -> int:
    """``200MB``, ``1GB``, ``5000000`` -> bytes."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*", text, re.I)
    if not m:
        raise click.BadParameter(f"not a size like 200MB or 1GB: {text!r}", param_hint=flag)
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


class _terminate_as_exit:
    """SIGTERM ends the run like Ctrl-C does: workers stopped, the manifest
    written, temporary files removed."""

    def __enter__(self) -> None:
        import signal
        import threading

        self.old = None
        if threading.current_thread() is threading.main_thread():

            def stop(signum: int, frame: object) -> None:
                raise SystemExit(128 + signum)

            self.old = signal.signal(signal.SIGTERM, stop)

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _show_plan(plan, settings) -> None:  # noqa: ANN001
    """The dry run's account of what a real run would do."""
    say = functools.partial(click.echo, err=True)
    say(
        f"Rows: {plan.rows} read, {plan.valid} valid, {plan.bad_rows} with problems (listed above)."
        if plan.bad_rows
        else f"Rows: {plan.rows} read, all valid."
    )
    mapped = [c for c in plan.columns if c.field]
    say("Columns read: " + ", ".join(f"'{c.header}' -> {c.field}" for c in mapped) + ".")
    for c in plan.columns:
        if c.field is None:
            say(f"Column ignored: '{c.header}'" + (f" ({c.hint})" if c.hint else "."))
    full = plan.valid - plan.shared_rows
    if settings.editions and plan.shared_sets:
        say(
            f"Option sets: {plan.option_sets}; {_n(plan.shared_sets, 'edition')} shared by "
            f"{_n(plan.shared_rows, 'recipient')} (each laid out once), "
            f"{_n(full, 'recipient')} rendered in full."
        )
    else:
        why = (
            "--full-render"
            if not settings.editions
            else f"no set is shared by {plan.min_shared} or more"
        )
        say(f"Option sets: {plan.option_sets}; {_n(full, 'recipient')} rendered in full ({why}).")
    if plan.resumable:
        say(f"Resume: {plan.resumable} finished PDFs kept, the rest rendered.")
    if plan.foreign and not (settings.resume or settings.overwrite):
        say(
            f"Output folder: holds {plan.foreign} PDFs this run did not make; the real run "
            "needs --resume or --overwrite."
        )
    if plan.est_pages is not None and plan.est_seconds is not None:
        minutes = plan.est_seconds / 60
        when = f"{minutes:.0f} min" if minutes >= 1 else f"{plan.est_seconds:.0f} s"
        say(
            f"Estimate: about {plan.est_pages} pages, about {when} "
            f"(from {plan.samples} sample render{'s' if plan.samples != 1 else ''})."
        )


class _progress:
    """A rich progress bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.last = 0.0

    def __enter__(self):  # noqa: ANN204
        if self.quiet:
            return None
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("rendering"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/s"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[failed]} failed"),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("batch", total=None, rate=0.0, failed=0)
        import time

        self.start = time.monotonic()
        return self.update

    def update(self, done: int, total: int, failed: int) -> None:
        import time

        now = time.monotonic()
        rate = done / (now - self.start) if now > self.start else 0.0
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total, rate=rate, failed=failed)
        elif done == total or now - self.last >= 5:
            self.last = now
            click.echo(f"{done}/{total} rendered, {failed} failed, {rate:.1f}/s", err=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@cli.command()
@click.argument("document")
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for DOCUMENT-1.png, DOCUMENT-2.png, ...",
)
@click.option(
    "--watch", is_flag=True, help="Re-render whenever a YAML, template, style or image changes."
)
@click.option(
    "--dpi",
    type=click.IntRange(20, 300),
    default=72,
    show_default=True,
    help="Resolution of the PNG pages.",
)
@click.option("--brand", metavar="ID", help="Brand from handouts/brands/; default: the document's.")
@click.pass_context
def preview(
    ctx: click.Context, document: str, out_dir: Path, watch: bool, dpi: int, brand: str | None
) -> None:
    """Write DOCUMENT as PNG pages for designers; --watch keeps them current."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.preview import render_preview
    from handoutgen.web.preview import watch as watch_loop

    workspace = Workspace.at(ctx.obj["workspace"])
    options = {"dpi": dpi, "brand": brand} if brand else {"dpi": dpi}
    if not watch:
        pages = render_preview(workspace, document, out_dir, **options)
        if not ctx.obj["quiet"]:
            click.echo(f"Wrote {len(pages)} page(s) to {out_dir}", err=True)
        return
    click.echo(f"Watching {workspace.root} (Ctrl-C to stop)", err=True)
    try:
        watch_loop(workspace, document, out_dir, lambda msg: click.echo(msg, err=True), **options)
    except KeyboardInterrupt:
        pass


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port to use."
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Another name clinicians type to reach it (e.g. handouts.clinic.example); repeatable.",
)
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS certificate (PEM): serve HTTPS.",
)
@click.option(
    "--keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Render processes.  [default: the number of cores]",
)
@click.option(
    "--queue",
    type=click.IntRange(0, 1000),
    default=8,
    show_default=True,
    help="Requests that may wait for a worker; more get 'busy, try again'.",
)
@click.option(
    "--idle-minutes",
    type=click.IntRange(1, 24 * 60),
    default=30,
    show_default=True,
    help="Sign clinicians out after this long unused.",
)
@click.option(
    "--trusted-proxy-header",
    metavar="HEADER",
    help="Take the signed-in user from this header (e.g. X-Forwarded-User), set by an SSO proxy.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDR",
    help="Address or network of that proxy; repeatable.  [default: 127.0.0.1 and ::1]",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...],
    certfile: str | None,
    keyfile: str | None,
    workers: int | None,
    queue: int,
    idle_minutes: int,
    trusted_proxy_header: str | None,
    trusted_proxies: tuple[str, ...],
) -> None:
    """Serve the web page to pick options, type a name and print a handout.

    On this machine only (127.0.0.1) nobody signs in. Any other --host, or
    any --allowed-host (a reverse proxy), needs users ('handoutgen users add
    NAME') or --trusted-proxy-header; it answers only to its own names and
    addresses plus --allowed-host, and should use HTTPS (--certfile/--keyfile)
    or sit behind a reverse proxy that does. Nothing a patient typed is
    written to disk or logs."""
    import ipaddress
    import os

    from handoutgen.content.workspace import Workspace, display_path
    from handoutgen.web.app import LOOPBACK, ServeConfig
    from handoutgen.web.app import serve as run_server
    from handoutgen.web.auth import users

    workspace = Workspace.at(ctx.obj["workspace"])
    if keyfile and not certfile:
        raise HandoutgenError("--keyfile needs --certfile")
    for proxy in trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise HandoutgenError(
                f"--trusted-proxy {proxy!r} is not an address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    if trusted_proxies and not trusted_proxy_header:
        raise HandoutgenError("--trusted-proxy needs --trusted-proxy-header")
    config = ServeConfig(
        host=host,
        port=port,
        allowed_hosts=allowed_hosts,
        workers=workers or os.cpu_count() or 1,
        queue=queue,
        https=bool(certfile),
        idle_minutes=idle_minutes,
        proxy_header=trusted_proxy_header,
        trusted_proxies=trusted_proxies or ("127.0.0.1", "::1"),
    )
    if config.sign_in and not trusted_proxy_header and not users(workspace):
        reach = f"--allowed-host {allowed_hosts[0]}" if host in LOOPBACK else f"listening on {host}"
        raise HandoutgenError(
            f"{reach} lets other machines reach this page, so clinicians must sign "
            "in: add a user first with 'handoutgen users add NAME' (or serve on 127.0.0.1)"
        )
    if host not in LOOPBACK and not certfile:
        log.warning(
            "listening on %s over plain HTTP: passwords and patient names cross the network "
            "unencrypted; use --certfile/--keyfile or a reverse proxy with HTTPS",
            host,
        )
    scheme = "https" if certfile else "http"

    def ready() -> None:
        if not ctx.obj["quiet"]:
            click.echo(
                f"Serving {display_path(workspace.root)} at {scheme}://{host}:{port}/ "
                f"({config.workers} render worker{'s' * (config.workers != 1)}; Ctrl-C stops)",
                err=True,
            )
            if host in ("0.0.0.0", "::"):
                import socket

                name = (allowed_hosts or (socket.gethostname(),))[0]
                click.echo(f"Clinicians open {scheme}://{name}:{port}/", err=True)

    run_server(workspace, config, certfile=certfile, keyfile=keyfile, on_ready=ready)


@cli.group()
def users() -> None:
    """Who may sign in to 'handoutgen serve' beyond this machine.

    Kept in the workspace's .handoutgen/settings.json (mode 0600), passwords
    only as argon2 hashes."""


def _new_password(name: str, password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


@users.command(name="add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_add(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Add a user who may sign in."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.auth import add_user, check_name

    workspace = Workspace.at(ctx.obj["workspace"])
    check_name(name)
    add_user(workspace, name, _new_password(name, password_stdin))
    click.echo(f"Added {name}.", err=True)


@users.command(name="passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Give a user a new password (signs them out everywhere)."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.auth import set_password, users

    workspace = Workspace.at(ctx.obj["workspace"])
    if name not in users(workspace):
        raise HandoutgenError(f"no user {name!r}; see 'handoutgen users list'")
    set_password(workspace, name, _new_password(name, password_stdin))
    click.echo(f"Changed the password of {name}.", err=True)


@users.command(name="remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Remove a user (their sessions end at once)."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.auth import remove_user

    remove_user(Workspace.at(ctx.obj["workspace"]), name)
    click.echo(f"Removed {name}.", err=True)


@users.command(name="list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List the users, one a line."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.auth import users

    for name, entry in sorted(users(Workspace.at(ctx.obj["workspace"])).items()):
        created = entry.get("created", "") if isinstance(entry, dict) else ""
        click.echo(f"{name}\t{created}" if created else name)


@cli.command()
@click.option(
    "--since",
    type=_DATE,
    metavar="YYYY-MM-DD",
    help="Only renders on or after this date (UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines for scripts.")
@click.pass_context
def audit(ctx: click.Context, since: dt.datetime | None, as_json: bool) -> None:
    """What the web app handed out: who, which document, options and content
    version, when. Never for whom: no patient data is in the log."""
    import dataclasses

    from handoutgen.content.workspace import Workspace
    from handoutgen.store.audit import read

    entries = read(Workspace.at(ctx.obj["workspace"]), _day(since))
    for e in entries:
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(e), sort_keys=True))
        else:
            click.echo(
                f"{e.at}  {e.user:<12} {e.action:<7} {e.document}  options={e.options}  "
                f"lang={e.language} {e.page_size}{' large-print' if e.large_print else ''}  "
                f"content={e.content_hash[:12]}  pages={e.pages}"
            )
    if not as_json and not ctx.obj["quiet"]:
        click.echo(f"{len(entries)} render{'s' * (len(entries) != 1)}.", err=True)


@cli.command()
def doctor() -> None:
    """Check that WeasyPrint, fonts and font subsetting are set up."""
    from handoutgen.engine.doctor import run_checks

    failed = False
    for check in run_checks():
        mark = "ok" if check.ok else ("MISSING" if check.required else "warning")
        click.echo(f"{mark:>8}  {check.name}: {check.detail}")
        failed |= check.required and not check.ok
    if failed:
        raise HandoutgenError("some required parts are missing (see above)")


# -- warm (issue 18) --------------------------------------------------------------------


@cli.command()
@click.argument("documents", nargs=-1, metavar="[DOC]...")
@click.option(
    "--clinic",
    "clinics",
    metavar="NAME",
    multiple=True,
    help="Also warm for this clinic's name (repeat it); it is printed on the shared pages.",
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


# -- cache (issue 13) -------------------------------------------------------------------


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


@cli.group(name="cache")
def cache_group() -> None:
    """Show or clear the cache of editions and check results (no patient data)."""


@cache_group.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def cache_info(as_json: bool) -> None:
    """Where the cache is, whether it is used, and what it holds."""
    from handoutgen.store import cache

    data = cache.info()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"folder: {data['folder'] or '-'}")
    click.echo(f"status: {data['status']}")
    for kind, k in sorted(data.get("kinds", {}).items()):
        click.echo(f"{kind}: {k['entries']} entries, {k['bytes'] / 1048576:.1f} MiB")
    if "bytes" in data:
        click.echo(
            f"total: {data['entries']} entries, {data['bytes'] / 1048576:.1f} MiB "
            f"of {data['max_bytes'] / 1048576:.0f} MiB (HANDOUTGEN_CACHE_MAX_MB)"
        )


@cache_group.command(name="clear")
def cache_clear() -> None:
    """Delete every cached entry and the cache's key."""
    from handoutgen.store import cache

    removed = cache.clear()
    click.echo(f"Removed {removed} cache entr{'y' if removed == 1 else 'ies'}.")


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, directory: Path) -> None:
    """Start a workspace in DIRECTORY (default: here): a handout, its options, a
    brand, templates/ and styles/ to start from, a README and editor schemas."""
    from handoutgen.content.scaffold import DOCUMENT, init_workspace
    from handoutgen.content.workspace import display_path

    written = init_workspace(directory)
    if not ctx.obj["quiet"]:
        where = display_path(directory.resolve())
        click.echo(f"Created a workspace in {where} ({len(written)} files). Try:", err=True)
        click.echo(f"  cd {where}\n  handoutgen check\n  handoutgen render {DOCUMENT}", err=True)


@cli.command()
@click.argument(
    "kind", required=False, type=click.Choice(["option", "document", "brand"], case_sensitive=False)
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write KIND's schema to this file (- for standard output); it replaces only "
    "an earlier schema.",
)
@click.pass_context
def schema(ctx: click.Context, kind: str | None, output: Path | None) -> None:
    """JSON Schema of the YAML files, for editors. With KIND, print it (or write
    it with -o); without, refresh the workspace's schemas/ folder."""
    if kind is None:
        if output is not None:
            raise click.UsageError("-o needs a KIND (option, document or brand)")
        from handoutgen.content.scaffold import write_schemas
        from handoutgen.content.workspace import Workspace, display_path

        for path in write_schemas(Workspace.at(ctx.obj["workspace"]).root):
            if not ctx.obj["quiet"]:
                click.echo(f"Wrote {display_path(path)}", err=True)
        return
    from handoutgen.content.schema import schema_text, write_schema

    if output is None or str(output) == "-":
        click.echo(schema_text(kind), nl=False)
    else:
        write_schema(kind, output)
        if not ctx.obj["quiet"]:
            click.echo(f"Wrote {output}", err=True)


def _today():  # noqa: ANN202
    from handoutgen.core.clock import today

    return today()


def _add_verbosity(group: click.Group) -> None:
    """-v/-q on every subcommand too, so `handoutgen render DOC -v` works."""
    for command in group.commands.values():
        command.params.extend(_verbosity_options())
        if isinstance(command, click.Group):
            _add_verbosity(command)


_add_verbosity(cli)


def main() -> None:
    cli(prog_name="handoutgen")


if __name__ == "__main__":
    main()
