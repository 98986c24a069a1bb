"""The limits on hostile templates and slow clients, with their defaults in
one place: each is a command-line flag, else a ``HANDOUTGEN_*`` environment
variable, else the default here (flag > environment > default).

The CLI validates flags and variables (click's ``envvar``: a bad value is a
usage error naming the one given) and sets them for the command with
``using``; worker processes get them as an argument (``apply``). Library
users get the environment, then the defaults.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from handoutgen.core.errors import HandoutgenError


@dataclass(frozen=True)
class Limit:
    flag: str
    env: str
    default: float
    integer: bool = False
    help: str = ""


# A hostile (or broken) template must not hang a render or eat the machine:
# defaults far above what any shipped document needs (a few hundred
# milliseconds, a few hundred kilobytes of HTML; memory: MEMORY_BASELINE_MB).
LIMITS: dict[str, Limit] = {
    "render_timeout": Limit(
        "--render-timeout",
        "HANDOUTGEN_RENDER_TIMEOUT",
        120.0,
        help="Seconds a web render may take before its worker is stopped and replaced.",
    ),
    "template_seconds": Limit(
        "--template-seconds",
        "HANDOUTGEN_TEMPLATE_SECONDS",
        30.0,
        help="Seconds a template may run ('the template ran too long at FILE:LINE').",
    ),
    "template_max_mb": Limit(
        "--template-max-mb",
        "HANDOUTGEN_TEMPLATE_MAX_MB",
        64.0,
        help="MB of text a template may make; a worker process may use 1536 MB "
        "plus 8 times this in all (MemoryError: 'used too much memory at FILE:LINE').",
    ),
    "header_timeout": Limit(
        "--header-timeout",
        "HANDOUTGEN_HEADER_TIMEOUT",
        10.0,
        help="Seconds a connection has to send a request's headers.",
    ),
    "idle_timeout": Limit(
        "--idle-timeout",
        "HANDOUTGEN_IDLE_TIMEOUT",
        30.0,
        help="Seconds an idle connection (or a form's body) is waited for.",
    ),
    "max_connections": Limit(
        "--max-connections",
        "HANDOUTGEN_MAX_CONNECTIONS",
        32,
        integer=True,
        help="Connections one address may hold at once.",
    ),
}

_given: dict[str, float] = {}  # set by the CLI (flags) or a worker's start-up


def _from_env(name: str) -> float:
    limit = LIMITS[name]
    raw = os.environ.get(limit.env, "").strip()
    if not raw:
        return limit.default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0 or (limit.integer and value != int(value)):
        kind = "a whole number" if limit.integer else "a number"
        raise HandoutgenError(
            f"{limit.env}={raw!r}: give {kind} above 0 (default {limit.default:g})"
        )
    return value


def get(name: str) -> float:
    """The limit in force: given (flag), else the environment, else the default."""
    if name in _given:
        return _given[name]
    return _from_env(name)


def current() -> dict[str, float]:
    """Every limit in force (to hand to a worker process)."""
    return {name: get(name) for name in LIMITS}


def apply(values: dict[str, float]) -> None:
    """In a worker process: the limits its parent was given."""
    _given.update({k: v for k, v in values.items() if k in LIMITS})


@contextlib.contextmanager
def using(**values: float | None) -> Iterator[None]:
    """The limits given to one command (None: not given, the environment decides)."""
    saved = dict(_given)
    _given.update({k: v for k, v in values.items() if v is not None and k in LIMITS})
    try:
        yield
    finally:
        _given.clear()
        _given.update(saved)


# What a render needs beyond its template's text, measured: rendering every
# shipped document (each language, large print) in one process peaks at about
# 250 MB resident and 210 MB of private memory (VmData); 1536 leaves a margin
# of six times that. The help text of --template-max-mb repeats both numbers.
MEMORY_BASELINE_MB = 1536
MEMORY_PER_TEMPLATE_MB = 8  # a template's text, its copies and the layout built from it


def memory_cap_mb() -> int:
    """The OS limit on a worker's private memory (RLIMIT_DATA), in MB."""
    return int(MEMORY_BASELINE_MB + MEMORY_PER_TEMPLATE_MB * get("template_max_mb"))


def cap_memory() -> int | None:
    """Cap this process's private memory (heap and anonymous maps) at
    ``memory_cap_mb``: an allocation past it fails with MemoryError instead of
    taking the machine. For worker processes only (the server and a caller of
    the library keep theirs). Returns the cap in MB, or None where the OS has
    no such limit."""
    try:
        import resource
    except ImportError:  # not on this OS
        return None
    mb = memory_cap_mb()
    wanted = mb * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        return soft // (1024 * 1024)  # already tighter: keep it
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
    except (ValueError, OSError):
        return None
    return wanted // (1024 * 1024)
