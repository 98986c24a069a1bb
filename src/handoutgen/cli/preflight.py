"""``handoutgen preflight``: print-shop and accessibility checks on finished PDFs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from handoutgen.cli.base import cli


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--large-print/--no-large-print",
    default=None,
    help="Judge against 18 pt, not 9 pt. Default: what the PDF's metadata says "
    "(handoutgen marks its large-print PDFs).",
)
@click.option(
    "--booklet/--no-booklet",
    default=None,
    help="A booklet needs a multiple of 4 pages. Default: what the PDF's metadata says.",
)
@click.option(
    "--print-ready/--no-print-ready",
    default=None,
    help="Require trim and bleed boxes and crop marks outside the bleed. Default: when a "
    "page is trimmed smaller than the sheet.",
)
@click.option(
    "--pdf-x",
    "pdfx",
    is_flag=True,
    help="Require PDF/X (a file that claims it is always checked for its output intent).",
)
@click.option("--min-size", type=float, metavar="PT", help="The smallest text size allowed.")
@click.option(
    "--safe-margin",
    type=float,
    default=0.125,
    show_default=True,
    metavar="IN",
    help="Text this near the trim is a warning.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def preflight(
    ctx: click.Context,
    files: tuple[Path, ...],
    large_print: bool | None,
    booklet: bool | None,
    print_ready: bool | None,
    min_size: float | None,
    safe_margin: float,
    pdfx: bool,
    as_json: bool,
) -> None:
    """Check finished PDFs (any, not only ours) before they go to print.

    Colliding text, text outside the trim or safe area, text under the minimum size,
    fonts not embedded, booklet page counts, a short last page, PDF/UA-1 basics, trim
    and bleed boxes, crop marks outside the bleed, a PDF/X output intent. Exits 1 on
    any error."""
    from handoutgen.engine.pdffacts import read
    from handoutgen.quality.preflight import preflight as judge

    reports = []
    for path in files:
        try:
            facts = read(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - any reader error means: not a readable PDF
            raise click.ClickException(f"{path}: not a readable PDF ({exc})") from None
        reports.append(
            judge(
                facts,
                str(path),
                large_print=large_print,
                booklet=booklet,
                print_ready=print_ready,
                min_size=min_size,
                safe_margin=safe_margin * 72,
                pdfx=pdfx,
            )
        )
    errors = sum(r.errors for r in reports)
    if as_json:
        click.echo(
            json.dumps({"files": [r.as_dict() for r in reports], "errors": errors}, indent=2)
        )
    else:
        for report in reports:
            for issue in report.issues:
                click.echo(str(issue))
            if not ctx.obj["quiet"]:
                click.echo(
                    f"{report.file}: {report.pages} pages, {report.errors} errors, "
                    f"{len(report.issues) - report.errors} warnings; {report.collisions} "
                    f"collisions; {report.small_chars} of {report.chars} characters under "
                    f"{report.min_size:g} pt.",
                    err=True,
                )
    if errors:
        ctx.exit(1)
