"""The ``handoutgen`` group, its logging, and the option helpers the
command modules share."""

from __future__ import annotations

import datetime as dt
import logging
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
    from handoutgen.content.workspace import Workspace
    from handoutgen.store import librarycache

    return librarycache.load(Workspace.at(ctx.obj["workspace"]))


def _add_verbosity(group: click.Group) -> None:
    """-v/-q on every subcommand too, so `handoutgen render DOC -v` works."""
    for command in group.commands.values():
        command.params.extend(_verbosity_options())
        if isinstance(command, click.Group):
            _add_verbosity(command)


def limit_options(*names: str):  # noqa: ANN201 - a decorator
    """Flags for these limits (core/limits.py), each also read from its
    HANDOUTGEN_* variable (flag > variable > default; a bad value is a usage
    error naming the flag or the variable); the command runs under them."""
    import functools

    from handoutgen.core import limits

    def decorate(f):  # noqa: ANN001, ANN202
        @functools.wraps(f)
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            given = {name: kwargs.pop(name) for name in names}
            with limits.using(**given):
                return f(*args, **kwargs)

        for name in reversed(names):
            limit = limits.LIMITS[name]
            kind = click.IntRange(min=1) if limit.integer else click.FloatRange(0, min_open=True)
            wrapper = click.option(
                limit.flag,
                name,
                type=kind,
                envvar=limit.env,
                show_envvar=True,
                default=int(limit.default) if limit.integer else limit.default,
                show_default=True,
                help=limit.help,
            )(wrapper)
        return wrapper

    return decorate
