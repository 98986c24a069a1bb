"""Intelligent Mail serial numbers: one counter per Mailer ID, in the
private folder (``.handoutgen/mail-serials.json``, 0600).

Full-Service IMb asks for a tracking code unique per Mailer ID for 45 days,
so a mailing takes a block of serials that no earlier mailing had. The file
holds only each Mailer ID's next free serial: no patient, row or letter.
Blocks are taken under a lock (filelock), so two batches started together
get disjoint blocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import filelock

from handoutgen.content.workspace import Workspace, display_path
from handoutgen.core.errors import HandoutgenError
from handoutgen.core.output import write_atomic
from handoutgen.store import private

FILE = "mail-serials.json"
LOCK = "mail-serials.lock"


@dataclass(frozen=True)
class Block:
    """Serials ``base`` to ``base + size - 1``; ``wrapped``: the counter ran
    past the Mailer ID's last serial and this block starts again at 0."""

    base: int
    size: int
    wrapped: bool = False


def _read(path: Path) -> dict[str, int]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HandoutgenError(
            f"{display_path(path)}: cannot read the mailing serial counter ({exc}); move it "
            "away only if no mailing of the last 45 days used it (serials would repeat)"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in data.values()
    ):
        raise HandoutgenError(
            f'{display_path(path)}: expected {{"MAILER ID": next serial, ...}}; fix it'
        )
    return data


def take(workspace: Workspace, mailer_id: str, size: int, limit: int, keep: bool = True) -> Block:
    """The next ``size`` serials of ``mailer_id`` (serials run 0 to ``limit - 1``).
    ``keep=False`` (a dry run) only looks: the counter is not moved."""
    if size > limit:
        raise HandoutgenError(
            f"a mailing of {size} serial numbers does not fit Mailer ID {mailer_id}'s "
            f"{limit}; split the recipient file"
        )
    folder = private._ensure_folder(workspace)
    path = folder / FILE
    with filelock.FileLock(str(folder / LOCK), mode=0o600, timeout=60):
        counters = _read(path)
        base = counters.get(mailer_id, 0)
        wrapped = base + size > limit
        if wrapped:
            base = 0
        if not keep:
            return Block(base, size, wrapped)
        counters[mailer_id] = base + size
        write_atomic(path, (json.dumps(counters, indent=2, sort_keys=True) + "\n").encode())
    return Block(base, size, wrapped)
