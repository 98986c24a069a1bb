"""Setting up and looking after a workspace and this machine: init, schema,
doctor, cache."""

from __future__ import annotations

import json
from pathlib import Path

import click

from handoutgen.cli.base import cli
from handoutgen.core.errors import HandoutgenError


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--kind",
    # scaffold.KINDS (not imported here: the CLI starts fast); a test keeps them equal.
    type=click.Choice(["handout", "brochure", "booklet", "letter", "grid"]),
    default="handout",
    show_default=True,
    help="The kind of document the workspace starts with (reviewed sample content).",
)
@click.pass_context
def init(ctx: click.Context, directory: Path, kind: str) -> None:
    """Start a workspace in DIRECTORY (default: here): a document of KIND, its
    options, a brand, a template and stylesheet to start from, the template
    reference, a README and editor schemas."""
    from handoutgen.content.scaffold import KINDS, MAILED, RECIPIENTS, init_workspace
    from handoutgen.content.workspace import display_path

    written = init_workspace(directory, kind)
    if not ctx.obj["quiet"]:
        where = display_path(directory.resolve())
        click.echo(f"Created a {kind} workspace in {where} ({len(written)} files). Try:", err=True)
        document = KINDS[kind]
        click.echo(f"  cd {where}\n  handoutgen check\n  handoutgen render {document}", err=True)
        click.echo(f"  handoutgen preview {document} --serve", err=True)
        if kind in MAILED:
            click.echo(f"  handoutgen batch {document} {RECIPIENTS} -o output/mailing", err=True)


@cli.command()
@click.argument(
    "kind",
    required=False,
    type=click.Choice(["option", "document", "brand", "signs"], case_sensitive=False),
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


# -- cache (issue 13) -------------------------------------------------------------------


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
@click.pass_context
def cache_clear(ctx: click.Context) -> None:
    """Delete the cached entries and the cache's key; files the cache did not
    make are left alone."""
    import os

    from handoutgen.content.workspace import Workspace
    from handoutgen.core.errors import ContentError
    from handoutgen.store import cache, private

    try:
        private_folder: Path | None = private.folder(Workspace.at(ctx.obj["workspace"]))
    except ContentError:  # not in a workspace: only the variable can name one
        env = os.environ.get("HANDOUTGEN_PRIVATE_DIR")
        private_folder = Path(env) if env else None
    removed, left = cache.clear(private_folder)
    click.echo(f"Removed {removed} cache entr{'y' if removed == 1 else 'ies'}.")
    if left:
        click.echo(
            f"Left {left} file{'s' * (left != 1)} in {cache.cache_dir()} that the cache did "
            "not make.",
            err=True,
        )
