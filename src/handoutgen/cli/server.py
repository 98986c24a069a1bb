"""The web app: ``serve``, its ``users``, and the ``audit`` of what it handed out."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from handoutgen.cli.base import _DATE, _day, cli, limit_options, log
from handoutgen.core.errors import HandoutgenError


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
    "--session-hours",
    type=click.FloatRange(0.05, 7 * 24),
    default=12,
    show_default=True,
    help="End every session this long after sign-in, however much it is used.",
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
@limit_options(
    "render_timeout",
    "template_seconds",
    "template_max_mb",
    "header_timeout",
    "idle_timeout",
    "max_connections",
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
    session_hours: float,
    trusted_proxy_header: str | None,
    trusted_proxies: tuple[str, ...],
) -> None:
    """Serve the web page to pick options, type a name and print a handout.

    On this machine only (127.0.0.1) nobody signs in. Any other --host, or
    any --allowed-host (a reverse proxy), needs users ('handoutgen users add
    NAME') or --trusted-proxy-header; it answers only to its own names and
    addresses plus --allowed-host, and should use HTTPS (--certfile/--keyfile)
    or sit behind a reverse proxy that does. Nothing a patient typed is
    written to disk or logs.

    The limits (--render-timeout ... --max-connections) come from their flag,
    else their HANDOUTGEN_* variable, else the default shown. A render over
    --render-timeout has its own worker stopped and replaced (the others go
    on); each worker's memory is capped (--template-max-mb)."""
    import ipaddress
    import os

    from handoutgen.content.workspace import Workspace, display_path
    from handoutgen.core import limits
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
        session_hours=session_hours,
        proxy_header=trusted_proxy_header,
        trusted_proxies=trusted_proxies or ("127.0.0.1", "::1"),
        header_timeout=limits.get("header_timeout"),
        idle_timeout=limits.get("idle_timeout"),
        max_per_address=int(limits.get("max_connections")),
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


@users.command(name="rotate-key")
@click.pass_context
def users_rotate_key(ctx: click.Context) -> None:
    """Make a new key for signing session cookies: everyone is signed out, at
    once and for good (e.g. when a copy of the settings may have leaked)."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.auth import rotate_key

    ended = rotate_key(Workspace.at(ctx.obj["workspace"]))
    click.echo(f"Made a new signing key; ended {ended} session{'s' * (ended != 1)}.", err=True)


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
@click.option(
    "--verify",
    is_flag=True,
    help="Check the hash chain and its anchor instead: exit 1 naming the first bad row.",
)
@click.pass_context
def audit(ctx: click.Context, since: dt.datetime | None, as_json: bool, verify: bool) -> None:
    """What was handed out (web app, CLI renders, mailing batches): who, which
    document, options and content version, when. Never for whom: no patient
    data is in the log."""
    import dataclasses

    from handoutgen.content.workspace import Workspace
    from handoutgen.store import audit as trail

    workspace = Workspace.at(ctx.obj["workspace"])
    if verify:
        verdict = trail.verify(workspace)
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(verdict), sort_keys=True))
        if not verdict.ok:
            raise HandoutgenError(f"the audit log does not verify: {verdict.message}")
        if not as_json:
            click.echo(
                f"ok: {verdict.message}" + (f"; head {verdict.head}" if verdict.head else "")
            )
        return
    entries = trail.read(workspace, _day(since))
    for e in entries:
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(e), sort_keys=True))
        else:
            counts = f"  {e.counts}" if e.counts else ""
            click.echo(
                f"{e.at}  {e.user:<12} {e.action:<7} {e.document}  options={e.options}  "
                f"lang={e.language} {e.page_size}{' large-print' if e.large_print else ''}  "
                f"content={e.content_hash[:12]}  pages={e.pages}{counts}"
                + (f"  outcome={e.outcome}" if e.outcome else "")
            )
    if not as_json and not ctx.obj["quiet"]:
        click.echo(f"{len(entries)} render{'s' * (len(entries) != 1)}.", err=True)
