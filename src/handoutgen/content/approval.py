"""Clinic approval of a document, tied to the text it approved.

``handoutgen approve DOCUMENT --by "Name, credentials"`` records who approved
the document, when, and a SHA-256 of everything a patient reads in it: the
document's YAML, the options it offers (its own and ``offers:``), every
translation of those, the brands
(clinic names, phones, funding lines), the templates, catalogs, stylesheets,
pictures and any other content file (warning signs, notices). Other documents
and options the document does not offer are left out, so editing one document
does not unsettle another's approval.

A record lives in ``handouts/approvals/<document>.yaml``, newest last. The
document is *approved* while its text still has the newest record's hash; any
edit makes it *pending* again, and pending pages say "Not yet approved by your
clinic". Nobody approves by editing a YAML key: ``status: approved`` is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import yaml

from handoutgen.core.errors import ContentError, DataError

if TYPE_CHECKING:
    from pathlib import Path

    from handoutgen.content.library import Library

FOLDER = "approvals"
MAX_APPROVER = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

State = Literal["approved", "pending"]


@dataclass(frozen=True)
class Approval:
    """One recorded approval."""

    document: str
    by: str
    at: str  # ISO 8601, UTC
    sha256: str


@dataclass(frozen=True)
class ApprovalState:
    """Where a document stands: approved (the newest record matches its text)
    or pending (no record, or the text changed since)."""

    state: State
    record: Approval | None  # the newest record, if any
    sha256: str  # the hash of the text as it is now

    @property
    def changed(self) -> bool:
        """Approved once, edited since."""
        return self.state == "pending" and self.record is not None

    def describe(self) -> str:
        if self.record is None:
            return "not yet approved by the clinic"
        day = self.record.at[:10]
        if self.state == "approved":
            return f"approved by {self.record.by} on {day}"
        return f"changed since {self.record.by} approved it on {day}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "state": self.state,
            "by": self.record.by if self.record else None,
            "at": self.record.at if self.record else None,
            "sha256": self.sha256,
        }


def records_path(library: Library, doc_id: str) -> Path:
    return library.workspace.handouts_dir / FOLDER / f"{doc_id}.yaml"


def text_hash(library: Library, doc_id: str) -> str:
    """SHA-256 of every content file a patient reads in ``doc_id`` (see the module)."""
    ws = library.workspace
    doc = library.document(doc_id)
    offered = set(doc.offered)
    other_docs = set(library.documents) - {doc_id}
    approvals = ws.handouts_dir / FOLDER
    h = hashlib.sha256(b"handoutgen approval 1\0")
    for path in ws.content_files():
        if path.is_relative_to(approvals) or _left_out(path, ws.handouts_dir, offered, other_docs):
            continue
        h.update(ws.display(path).encode("utf-8") + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _left_out(path: Path, handouts: Path, offered: set[str], other_docs: set[str]) -> bool:
    """Files of other documents and of options this document does not offer."""
    if not path.is_relative_to(handouts) or path.suffix != ".yaml":
        return False
    parts = path.relative_to(handouts).parts
    if parts[0] == "translations" and len(parts) >= 3:
        parts = parts[2:]  # translations/<lang>/... reads like handouts/...
    if len(parts) == 1:
        return path.stem in other_docs
    if len(parts) == 2 and parts[0] == "options":
        return path.stem not in offered
    return False


def read_records(library: Library, doc_id: str) -> list[Approval]:
    path = records_path(library, doc_id)
    if not path.is_file():
        return []
    shown = library.workspace.display(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ContentError(
            f"{shown}: cannot read the approval records ({type(exc).__name__}); restore it "
            "from version control or delete it and approve again"
        ) from None
    rows = data.get("approvals") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ContentError(f"{shown}: expected a list under 'approvals:'")
    out = []
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) for k in ("by", "at", "sha256")
        ):
            raise ContentError(
                f"{shown}: approval {i} needs 'by', 'at' and 'sha256' as text; records are "
                "written by `handoutgen approve`, not by hand"
            )
        out.append(Approval(doc_id, row["by"], row["at"], row["sha256"]))
    return out


_STATES: dict[tuple[str, str], ApprovalState] = {}


def approval_state(library: Library, doc_id: str) -> ApprovalState:
    """The document's approval state (kept per content hash: a render asks often)."""
    key = (library.content_hash, doc_id)
    state = _STATES.get(key)
    if state is None:
        now = text_hash(library, doc_id)
        records = read_records(library, doc_id)
        newest = records[-1] if records else None
        approved = newest is not None and newest.sha256 == now
        state = ApprovalState("approved" if approved else "pending", newest, now)
        if len(_STATES) > 256:
            _STATES.clear()
        _STATES[key] = state
    return state


def clear_caches() -> None:
    _STATES.clear()


def clean_approver(by: str) -> str:
    """The approver as recorded: one line of text, no control characters."""
    name = " ".join(_CONTROL.sub(" ", by).split())
    if not name:
        raise DataError("--by: say who approves, with credentials, like 'Dr. Sam Rivera, MD'")
    if len(name) > MAX_APPROVER:
        raise DataError(f"--by: at most {MAX_APPROVER} characters (got {len(name)})")
    return name


def record(library: Library, doc_id: str, by: str, now: dt.datetime) -> Approval:
    """Append an approval of the document's current text; returns it."""
    from handoutgen.core.output import write_atomic

    name = clean_approver(by)
    records = read_records(library, doc_id)
    at = now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    new = Approval(doc_id, name, at, text_hash(library, doc_id))
    rows = [{"by": r.by, "at": r.at, "sha256": r.sha256} for r in [*records, new]]
    text = (
        "# Written by `handoutgen approve`: who approved this document, when, and a\n"
        "# SHA-256 of everything a patient reads in it. Any edit to that text makes\n"
        "# the document pending again. Do not edit by hand.\n"
        + yaml.safe_dump({"approvals": rows}, sort_keys=False, allow_unicode=True, width=1000)
    )
    path = records_path(library, doc_id)
    path.parent.mkdir(exist_ok=True)  # a content folder, like options/: the user's mode
    if not library.workspace.confined(path):
        raise ContentError(
            f"{library.workspace.display(path)} leads outside the workspace (through a "
            "symlink); approval records must lie inside it"
        )
    write_atomic(path, text.encode("utf-8"), mode=0o644)
    clear_caches()
    return new
