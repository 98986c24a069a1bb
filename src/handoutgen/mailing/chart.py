"""Rows filled from the EHR (a ``fhir_patient`` column) and letters written
back there, as a batch sees it.

mailing does not import ehr (a sibling stage): the CLI hands in a Chart. An
Unavailable error from it (unreachable server, 401, 403) stops the batch
once; any other HandoutgenError is one row's problem. A chart's messages name
no patient and no FHIR id; the batch adds the row and the record id the file
gave.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Protocol

from handoutgen.content.library import Library
from handoutgen.core.errors import HandoutgenError, Unavailable

log = logging.getLogger("handoutgen")

FIELD = "fhir_patient"
# What FHIR allows in an id: it goes into URLs and searches.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
STORED = "stored"  # the manifest's ehr column for a letter the EHR holds


class Chart(Protocol):
    write_back: bool

    def connect(self) -> None:
        """Reach the EHR before any row (raises to stop the batch)."""

    def patient(
        self, library: Library, document: str, fhir_id: str, language: str | None
    ) -> tuple[str, str | None]:
        """The name to print and the language: the row's own, else the record's."""
        ...

    def store(
        self, library: Library, fields: dict[str, Any], pdf: bytes, fhir_id: str, allow_draft: bool
    ) -> bool:
        """Write one letter back; True if anything was added."""
        ...


class WriteBacks:
    """The batch's write-backs: each letter once its PDF is on disk. After an
    Unavailable the rest are not tried (one error, not one per row); the
    manifest's ``ehr`` column and the report name what a rerun stores."""

    def __init__(self, chart: Chart, library: Library, allow_draft: bool):
        self.chart = chart
        self.library = library
        self.allow_draft = allow_draft
        self.stopped = ""  # the error that stopped them
        self.added = 0
        self.found = 0  # already in the EHR: a retry
        self.missing: list[tuple[int, str]] = []  # (row, id) not stored

    def store(self, row: int, rid: str, fields: dict[str, Any], fhir_id: str, pdf: Path) -> str:
        """The manifest's ehr value for this letter."""
        if not self.stopped:
            try:
                created = self.chart.store(
                    self.library, fields, pdf.read_bytes(), fhir_id, self.allow_draft
                )
            except Unavailable as exc:  # the report says it once (cli/mailing.py)
                self.stopped = exc.format_message()
            except HandoutgenError as exc:
                log.warning("row %s (id %s): not stored in the EHR: %s", row, rid, exc)
                self.missing.append((row, rid))
                return f"not stored: {exc.format_message()}"
            else:
                self.added += created
                self.found += not created
                return STORED
        self.missing.append((row, rid))
        return "not stored: the write-back stopped (see the batch's error)"


def fill_from_record(
    chart: Chart, library: Library, document: str, fields: dict[str, Any]
) -> list[tuple[str, str]]:
    """A row's name and language from its record, in ``fields``; its problems
    as (field, message). A language in the row wins, as --language does."""
    fhir_id = fields[FIELD]
    if not FHIR_ID.fullmatch(fhir_id):
        return [(FIELD, "not a FHIR id (letters, digits, '-' and '.', up to 64)")]
    if any(fields.get(k) for k in ("name", "first_name", "last_name")):
        return [
            (
                "name",
                "the row gives both a name and a fhir_patient id; leave the name empty (the "
                "record's name is printed) or the fhir_patient empty",
            )
        ]
    chart.connect()
    try:
        name, language = chart.patient(library, document, fhir_id, fields.get("language"))
    except Unavailable:
        raise
    except HandoutgenError as exc:
        return [(FIELD, exc.format_message())]
    fields["name"] = name
    fields["language"] = language
    return []
