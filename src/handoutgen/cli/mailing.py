"""``batch``: one document for every row of a recipients file, with the
dry run's plan and the progress display."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from pathlib import Path

import click

from handoutgen.cli.base import _DATE, _day, cli, limit_options, log
from handoutgen.cli.ehr import batch_chart, batch_options
from handoutgen.core.errors import HandoutgenError


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
    "--value",
    "values",
    metavar="FIELD:VALUE=NEW",
    multiple=True,
    help="Read a value as another, e.g. 'language:Spanish=es' (language names and codes "
    "like Spanish, español or SPA are understood without one).",
)
@click.option(
    "--sheet",
    metavar="NAME",
    help="The workbook sheet to read; default: the active one (the one Excel opens on).",
)
@click.option(
    "--header-row",
    type=click.IntRange(1),
    metavar="N",
    help="The header's row; default: found below any report title rows.",
)
@click.option(
    "--include-hidden",
    is_flag=True,
    help="Also read rows and columns hidden in the workbook (by an Excel filter, say).",
)
@click.option(
    "--names",
    type=click.Choice(["as-given", "title"]),
    help="'title' (the default) prints ALL-CAPS names as 'Maria Lopez' (and 'LAST, FIRST MD' "
    "providers as 'First Last, MD'); 'as-given' prints every name exactly as in the file.",
)
@click.option(
    "--default-options",
    metavar="ID;ID",
    help="Options of rows that name none.",
)
@click.option(
    "--profile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the file as an import profile (YAML) says; flags given as well win.",
)
@click.option(
    "--save-profile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --dry-run: save how the file was read (the flags above) as a profile.",
)
@click.option(
    "--address-style",
    type=click.Choice(["usps", "as-given"]),
    default="usps",
    show_default=True,
    help="usps: print addresses in USPS Publication 28 form (12 OAK ST APT 4).",
)
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the rows that are not mailed, with a 'problem' column (.csv or .xlsx).",
)
@click.option(
    "--letter-date",
    type=_DATE,
    metavar="YYYY-MM-DD",
    help="Date printed on the letters; default: today.",
)
@click.option(
    "--clinic",
    metavar="ID|NAME",
    help="The clinic profile every letter prints with (handouts/brands/ID.yaml, or its "
    "exact name): its name, return address and phone. Default: the document's brand:.",
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
@click.option("--large-print", is_flag=True, help="18 pt text, one column, for every recipient.")
@limit_options("template_seconds", "template_max_mb")
@batch_options
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
    values: tuple[str, ...],
    sheet: str | None,
    header_row: int | None,
    include_hidden: bool,
    names: str | None,
    default_options: str | None,
    profile: Path | None,
    save_profile: Path | None,
    address_style: str,
    errors_file: Path | None,
    letter_date: dt.datetime | None,
    clinic: str | None,
    allow_draft: bool,
    chunk_size: int | None,
    full_render: bool,
    large_print: bool,
    fhir_server: str | None,
    fhir_client_id: str | None,
    write_back: bool,
) -> None:
    """Render DOCUMENT for every row of RECIPIENTS (CSV, XLSX, JSON or YAML).

    Pages that are the same for many recipients (an edition: same options,
    language and page size) are laid out once and cached; each recipient's
    letter, name and page numbers are stamped on them. Rows that cannot share
    an edition are rendered in full, and the summary says which and why.

    Exit status: 0 every row was mailed (or, with --dry-run, is valid); 3 some
    rows were not (letters were written for the rest; a dry run found valid
    rows too), or --write-back could not store some letters; 1 nothing could
    be done; 130 interrupted.

    A fhir_patient column gives rows whose name and language come from the
    EHR's record (--fhir-server); --write-back stores their letters there
    (README: FHIR write-back)."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.mailing.batch import BatchInterrupted, BatchSettings, run_batch

    if save_profile is not None and not dry_run:
        raise click.UsageError("--save-profile is written by a --dry-run; add --dry-run")
    import_profile = _import_profile(
        profile, maps, values, sheet, header_row, include_hidden, names, default_options
    )
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
        letter_date=date,
        clinic=clinic,
        allow_draft=allow_draft,
        editions=not full_render,
        large_print=large_print,
        chunk_size=chunk_size,
        profile=import_profile,
        address_style="as-given" if address_style == "as-given" else "usps",
        errors=errors_file,
    )
    try:
        with _terminate_as_exit(), _progress(ctx.obj["quiet"] or dry_run) as progress:
            report = run_batch(
                Workspace.at(ctx.obj["workspace"]),
                settings,
                progress,
                batch_chart(ctx, fhir_server, fhir_client_id, write_back),
            )
    except BatchInterrupted as stop:
        click.echo(
            f"Interrupted: {_n(stop.written, 'letter')} written and kept (the manifest "
            f"vouches for them); {stop.remaining} not rendered. Run the same command again "
            "with --resume to finish.",
            err=True,
        )
        ctx.exit(130)
    for problem in report.problems:
        click.echo(f"Error: {problem}", err=True)
    for line in _rolled_up(report.warnings):
        log.warning("%s", line)
    quiet = ctx.obj["quiet"]
    if report.recipients is not None and not quiet:
        _show_reading(report.recipients, dry_run)
    if report.errors_written and not quiet:
        click.echo(
            f"Rows not mailed: {report.errors_written}, written to {errors_file} "
            "(their columns and a 'problem' column).",
            err=True,
        )
    if dry_run:
        if not quiet and report.plan is not None:
            _show_plan(report.plan, settings)
        n = len(report.problems)
        if n == 0 and save_profile is not None:
            import_profile.save(save_profile)
            if not quiet:
                click.echo(f"Profile saved: {save_profile} (use it with --profile).", err=True)
        if n:
            what = f"{n} problem{'s' if n != 1 else ''} found; nothing rendered"
            if report.plan is not None and report.plan.valid and report.plan.bad_rows:
                valid = report.plan.valid
                raise PartialBatch(
                    f"{what}; {_n(valid, 'row')} {'is' if valid == 1 else 'are'} valid"
                )
            raise HandoutgenError(what)
        if not quiet:
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
        if merged is not None:
            sheets = (report.merged_pages + 1) // 2
            click.echo(
                f"Print file: {merged}, {report.merged_pages} pages on {_n(sheets, 'sheet')} "
                "(printed duplex).",
                err=True,
            )
    if report.write_backs is not None:
        _show_write_backs(report.write_backs, quiet, out_dir, date)
    if report.failed:
        written = report.rendered + report.resumed
        what = (
            f"{report.failed} row{'s' if report.failed != 1 else ''} not mailed (see the manifest"
        )
        what += f" and {errors_file})" if report.errors_written else ")"
        if written:
            raise PartialBatch(f"{what}; {_n(written, 'letter')} written")
        raise HandoutgenError(what)
    if report.write_backs is not None and report.write_backs.missing:
        raise PartialBatch(
            f"{_n(len(report.write_backs.missing), 'letter')} written but not stored in the EHR"
        )


class PartialBatch(HandoutgenError):
    """Some rows were not mailed, but letters were written for the others."""

    exit_code = 3


def _show_write_backs(backs, quiet: bool, out_dir: Path, date) -> None:  # noqa: ANN001
    """What the EHR got, and the rows a rerun stores."""
    if backs.stopped:
        click.echo(f"Error: {backs.stopped}", err=True)
    if not quiet and (backs.added or backs.found):
        click.echo(
            f"Stored in the EHR: {_n(backs.added, 'letter')}"
            + (f"; {backs.found} already there (nothing added)" if backs.found else "")
            + ".",
            err=True,
        )
    if backs.missing:
        rows = ", ".join(f"{row} (id {rid})" for row, rid in backs.missing[:20])
        more = f" and {len(backs.missing) - 20} more" if len(backs.missing) > 20 else ""
        click.echo(
            f"Not stored in the EHR: rows {rows}{more} (the manifest's ehr column says why). "
            f"Their PDFs are kept in {out_dir}; when the EHR takes them, run the same command "
            f"again with --resume --letter-date {date.isoformat()} to store only these "
            "(nothing is stored twice).",
            err=True,
        )


def _import_profile(  # noqa: ANN202
    profile: Path | None,
    maps: tuple[str, ...],
    values: tuple[str, ...],
    sheet: str | None,
    header_row: int | None,
    include_hidden: bool,
    names: str | None,
    default_options: str | None,
):
    """The profile file, with the flags given on top of it."""
    from handoutgen.mailing.importprofile import ImportProfile, load_profile, parse_values
    from handoutgen.mailing.recipients import parse_map

    out = load_profile(profile) if profile is not None else ImportProfile()
    parse_map(maps)  # checks every pair
    for pair in maps:
        column, _, target = pair.partition("=")
        out.columns[column.strip()] = target.strip()
    for name, table in parse_values(values).items():
        out.values.setdefault(name, {}).update(table)
    if sheet is not None:
        out.sheet = sheet
    if header_row is not None:
        out.header_row = header_row
    if include_hidden:
        out.include_hidden = True
    if names is not None:
        out.names = names
    if default_options is not None:
        out.options = default_options
    return out


def _rolled_up(warnings: list) -> list[str]:
    """Warnings, with many alike as one line: "81 ZIPs restored: rows 3, 4, 7, ..."."""
    groups: dict[str, list] = {}
    for w in warnings:
        groups.setdefault(w.rollup or f"{w.field}: {w.message}", []).append(w)
    out = []
    for key, items in groups.items():
        if len(items) < 4:
            out += [str(w) for w in items]
            continue
        rows = ", ".join(str(w.row) for w in items[:10])
        more = f" and {len(items) - 10} more" if len(items) > 10 else ""
        first = items[0]
        detail = f" ({first.field}: {first.message})" if first.rollup else ""
        out.append(f"{first.source}: {len(items)} {key}: rows {rows}{more}{detail}")
    return out


def _show_reading(recipients, dry_run: bool) -> None:  # noqa: ANN001
    """How the file was read: the sheet, the header row, what was left out and
    which values were read as others."""
    from handoutgen.mailing.sheets import clip

    say = functools.partial(click.echo, err=True)
    sheet = recipients.sheet
    if sheet is None:
        return
    if dry_run and sheet.sheet is not None:
        others = ", ".join(f"'{n}'" for n in sheet.others)
        say(f"Sheet read: '{sheet.sheet}'" + (f" (not read: {others})." if others else "."))
    if dry_run and sheet.header_row > 1:
        say(f"Header: row {sheet.header_row} (the rows above it were skipped).")
    if sheet.hidden_rows:
        rows = ", ".join(map(str, sheet.hidden_rows[:10]))
        more = f" and {len(sheet.hidden_rows) - 10} more" if len(sheet.hidden_rows) > 10 else ""
        say(
            f"Hidden rows left out: {len(sheet.hidden_rows)} "
            f"(row{'s' if len(sheet.hidden_rows) > 1 else ''} {rows}{more}); "
            "--include-hidden reads them."
        )
    if dry_run and recipients.empty_headers:
        say(f"Columns without a header: {recipients.empty_headers} (ignored).")
    if dry_run and recipients.mapped_values:
        say(
            "Values read as: "
            + ", ".join(
                f"{name} '{clip(raw)}' -> {new} ({_n(count, 'row')})"
                for (name, raw), (new, count) in recipients.mapped_values.items()
            )
            + "."
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


def _today():  # noqa: ANN202
    from handoutgen.core.clock import today

    return today()
