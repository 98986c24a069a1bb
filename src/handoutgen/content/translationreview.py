"""Recording the review of a translation by a qualified human translator.

``handoutgen translations review FILE --by "Name, credentials"`` writes, into
the file's ``translation:`` record, the reviewer, ``method:
machine+human-review`` (``human`` stays), the date, the English hashes (as
``translations stamp`` does) and a ``review:`` block::

    review:
      by: "Ana Example, CHI-Spanish"
      at: "2027-01-15T10:00:00Z"
      source_sha256: ...   # the English text the review covered
      text_sha256: ...     # the translated text the review covered

The file counts as reviewed only while both hashes match the texts as they are
(translations.Record.reviewed): any later edit to either makes it a draft
again. Section 1557 (45 CFR 92.201(c)(3)) asks that machine translation of
critical text be reviewed by a qualified human translator; this is the record
of that review, as content/approval.py is of a clinic's approval.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from handoutgen.content.approval import clean_approver

if TYPE_CHECKING:
    from handoutgen.content.library import Library


def review(library: Library, path: Path, by: str, now: dt.datetime) -> tuple[str, str, str]:
    """Record ``by``'s review of one translation file as it reads now.

    Refuses a file with problems (a review vouches for a complete translation).
    Returns (display path, reviewer, timestamp)."""
    from handoutgen.content.translations import sound_record, stamp_text
    from handoutgen.core.output import write_atomic

    name = clean_approver(by)
    real, shown, rec = sound_record(library, path, "recording a review", need_record=True)
    at = now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    method = "human" if rec.record.method == "human" else "machine+human-review"
    text = real.read_text(encoding="utf-8")
    new = stamp_text(
        text,
        rec.current_sha256,
        dict(rec.field_hashes),
        scalars={
            "reviewer": json.dumps(name, ensure_ascii=False),
            "method": method,
            "date": at[:10],
        },
        review={
            "by": json.dumps(name, ensure_ascii=False),
            "at": json.dumps(at),
            "source_sha256": rec.current_sha256,
            "text_sha256": rec.text_sha256,
        },
    )
    write_atomic(real, new.encode("utf-8"), mode=real.stat().st_mode & 0o777)
    return shown, name, at
