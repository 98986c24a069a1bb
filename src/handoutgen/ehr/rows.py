"""The EHR for a batch: each row's name and language from its ``fhir_patient``
record, and each letter written back as ``render --write-back`` does.

This is the Chart that mailing/chart.py describes (mailing does not import
ehr; the CLI hands one in). Its messages name neither the patient nor any
FHIR id: the batch adds the row number and the record id the file gave.
An EhrUnavailable (unreachable, 401, 403) stops the batch; any other EhrError
is one row's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from handoutgen.content.library import Library
from handoutgen.ehr.client import EhrError, EhrUnavailable, FhirClient, FhirSettings
from handoutgen.ehr.patient import (
    Fixes,
    check_not_merged,
    match_language,
    patient_name,
    wanted_language,
)

RECORD = "the record"
BATCH = Fixes(
    name="give the row a name and leave its fhir_patient empty",
    language="put a language in the row's language column",
    current="put the current record's id in fhir_patient",
    name_other=False,
)
# A resource reference (``Patient/123``); not ``FHIR/R4`` in a base URL.
_REFERENCE = re.compile(r"\b((?:[A-Z][a-z]+)+)/[A-Za-z0-9\-.]{1,64}")


class RowChart:
    """One FHIR server for one batch, connected on the first row that needs it."""

    def __init__(self, settings: Callable[[], FhirSettings], *, write_back: bool):
        self._settings = settings
        self.write_back = write_back
        self._client: FhirClient | None = None
        self._languages: dict[str, list[str]] = {}

    def connect(self) -> None:
        """Resolve the settings and reach the server, once, before any row."""
        if self._client is None:
            client = FhirClient(self._settings())
            try:
                client.check()
            except BaseException:
                client.close()
                raise
            self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> FhirClient:
        self.connect()
        assert self._client is not None
        return self._client

    def patient(
        self, library: Library, document: str, fhir_id: str, language: str | None
    ) -> tuple[str, str | None]:
        """The name to print and the language (the row's own, else the record's)."""
        from handoutgen.render.context import document_languages

        try:
            record = self.client.read("Patient", fhir_id)
        except EhrUnavailable as exc:  # the batch stops: said once, without the id
            raise EhrUnavailable(scrub(exc.format_message(), fhir_id), exc.status) from None
        except EhrError as exc:
            if exc.status in (404, 410):
                raise EhrError(
                    f"the EHR has no such Patient ({exc.status}); check the row's fhir_patient",
                    exc.status,
                ) from None
            said = f" ({exc.status})" if exc.status else ""
            raise EhrError(
                f"the FHIR server gave no usable Patient record{said}", exc.status
            ) from None
        check_not_merged(record, RECORD, BATCH)
        name = patient_name(record, RECORD, BATCH)
        if language:
            return name, language
        if document not in self._languages:
            self._languages[document] = document_languages(library, document)
        wanted = wanted_language(record, RECORD, BATCH)
        return name, match_language(wanted, self._languages[document], document, RECORD, BATCH)

    def store(
        self,
        library: Library,
        fields: dict[str, Any],
        pdf: bytes,
        fhir_id: str,
        allow_draft: bool,
    ) -> bool:
        """Write one letter back; True if anything was added (False: a retry)."""
        from handoutgen.ehr.writeback import write_back
        from handoutgen.pipeline import make_request, plan

        request = make_request(**fields, allow_draft=allow_draft)
        try:
            stored = write_back(
                self.client,
                library,
                plan(library, request),
                pdf,
                patient=fhir_id,
                clinician=request.clinician,
            )
        except EhrError as exc:
            text = scrub(exc.format_message(), fhir_id)
            raise type(exc)(text, exc.status) from None
        return stored.created


def scrub(text: str, fhir_id: str) -> str:
    """``Patient/123`` and the like as ``Patient/…``, and the row's id nowhere."""
    text = _REFERENCE.sub(r"\1/…", text)
    return text.replace(fhir_id, "…") if len(fhir_id) >= 6 else text
