"""What is on disk: the manifest, each row's fingerprint, and which finished
PDFs a resumed batch may keep."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from handoutgen.core.output import write_atomic
from handoutgen.engine.raster import page_count
from handoutgen.mailing.chart import FIELD
from handoutgen.mailing.recipients import (
    Recipient,
)
from handoutgen.mailing.settings import MANIFEST_FIELDS, BatchSettings, RowResult

log = logging.getLogger("handoutgen")


MANIFEST = "manifest.csv"
LOCK = ".handoutgen.lock"


def fingerprint(rec: Recipient, settings: BatchSettings, content_hash: str) -> str:
    """What a row's PDF was made from: its input fields, the document, the
    content (templates, styles and assets included) and every setting that
    changes the output. A PDF is reused only under the same fingerprint."""
    from handoutgen.core.version import __version__
    from handoutgen.engine.weasy import version

    payload = {
        "fields": rec.request_fields(settings.document, settings.letter_date, settings.clinic),
        # Only when given: other rows keep their fingerprints.
        **({FIELD: rec.fields[FIELD]} if rec.fields.get(FIELD) else {}),
        "content": content_hash,
        "allow_draft": settings.allow_draft,
        "editions": settings.editions,
        "handoutgen": __version__,
        "weasyprint": version(),  # cached: this runs once per row
    }
    blob = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Voucher:
    """A finished row as a manifest records it."""

    id: str
    pages: int
    size: int
    sha256: str
    render: str
    fingerprint: str
    ehr: str = ""  # the write-back, as the manifest's ehr column says


def read_vouchers(path: Path) -> dict[str, Voucher]:
    """The rows a manifest says were finished. A torn or altered line vouches
    for nothing; the last line for an id wins (the manifest is appended as rows
    finish, then rewritten in order at the end)."""
    out: dict[str, Voucher] = {}
    try:
        fh = open(path, newline="", encoding="utf-8")  # noqa: SIM115
    except (FileNotFoundError, IsADirectoryError):
        return out
    with fh:
        try:
            for row in csv.DictReader(fh):
                rid = row.get("id") or ""
                if row.get("status") != "ok":
                    out.pop(rid, None)
                    continue
                try:
                    v = Voucher(
                        rid,
                        int(row["pages"]),
                        int(row["bytes"]),
                        row["sha256"],
                        row.get("render") or "",
                        row["fingerprint"],
                        row.get("ehr") or "",
                    )
                except (KeyError, TypeError, ValueError):
                    continue
                if _HEX64.match(v.sha256) and _HEX64.match(v.fingerprint):
                    out[rid] = v
        except (csv.Error, UnicodeDecodeError):
            pass  # a damaged manifest vouches for what was read before the damage
    return out


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def read_tracking(path: Path) -> dict[str, str]:
    """id -> IMb tracking code of the finished letters a manifest lists."""
    vouched = read_vouchers(path)
    out: dict[str, str] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rid, code = row.get("id") or "", row.get("tracking") or ""
                if rid in vouched and code.isdigit() and len(code) == 20:
                    out[rid] = code
    except (OSError, csv.Error, UnicodeDecodeError):
        pass  # what was read before the damage stands
    return out


@dataclass
class Existing:
    """What an output folder already holds, measured against this run."""

    reusable: dict[str, Voucher]  # id -> a PDF on disk that this run may keep
    changed: list[str]  # ids whose earlier PDF was made from other input or settings
    foreign: list[Path]  # PDFs that no manifest line with this run's fingerprint vouches for
    previous: list[Path]  # PDFs the manifest lists for ids not in this run


def survey(out_dir: Path, fingerprints: dict[str, str], verify: bool) -> Existing:
    vouchers = read_vouchers(out_dir / MANIFEST)
    pdfs = sorted(out_dir.glob("*.pdf")) if out_dir.is_dir() else []
    ex = Existing({}, [], [], [])
    for path in pdfs:
        rid = path.stem
        v = vouchers.get(rid)
        fp = fingerprints.get(rid)
        if fp is None:
            (ex.previous if v else ex.foreign).append(path)
            continue
        if v is None or v.fingerprint != fp:
            ex.foreign.append(path)
            if v is not None:
                ex.changed.append(rid)
            continue
        if verify and not _intact(path, v):
            ex.foreign.append(path)
            continue
        ex.reusable[rid] = v
    return ex


def _intact(path: Path, v: Voucher) -> bool:
    """The file is the one the manifest vouches for, and it opens as a PDF."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if len(data) != v.size or hashlib.sha256(data).hexdigest() != v.sha256:
        return False
    try:
        return page_count(data) == v.pages
    except Exception:  # noqa: BLE001 - any failure to open means "not done"
        return False


def write_manifest(path: Path, rows: list[RowResult]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r.manifest_row())
    write_atomic(path, buf.getvalue().encode("utf-8"))
