"""Write a rendered handout back to the EHR: a DocumentReference holding the
PDF and a Procedure ("patient education", SNOMED CT 311401005) that reports
it, in one transaction so the record never has one without the other.

Both are conditional creates on identifiers derived from the PDF's bytes, the
patient and the encounter: a retry with the same inputs finds what the first
try wrote and adds nothing. A server without transactions (its
CapabilityStatement lists none, or it answers the Bundle with 400, 405 or
501) gets the two conditional creates one after the other, DocumentReference
first: a failure between them leaves a DocumentReference that the retry finds.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hashlib
import logging
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from handoutgen.content.library import Library
from handoutgen.content.models import DEFAULT_LANGUAGE
from handoutgen.ehr.client import EhrError, FhirClient
from handoutgen.engine.raster import page_count
from handoutgen.render.context import Plan
from handoutgen.store.audit import AuditLog

log = logging.getLogger("handoutgen")

PDF_SYSTEM = "urn:handoutgen:pdf-sha256"
EDUCATION_SYSTEM = "urn:handoutgen:education"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
DOC_TYPE = {"system": LOINC, "code": "51855-5", "display": "Patient Note"}
DOC_CATEGORY = {
    "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
    "code": "clinical-note",
    "display": "Clinical Note",
}
EDUCATION = {"system": SNOMED, "code": "311401005", "display": "Patient education"}
# What a server that has no transactions answers a transaction Bundle with.
NO_TRANSACTIONS = (400, 405, 501)
TEACH_BACK = (
    "verbalized understanding",
    "demonstrated understanding",
    "needs reinforcement",
    "not assessed",
)


@dataclass(frozen=True)
class Stored:
    """What the EHR holds after a write-back (ids as the server gave them)."""

    document_reference: str
    procedure: str
    created: bool  # False: a retry found both already there


def pdf_identifier(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()


def education_identifier(pdf: bytes, patient: str, encounter: str | None) -> str:
    """One education event: this PDF, for this patient, at this encounter."""
    key = f"{pdf_identifier(pdf)}|Patient/{patient}|Encounter/{encounter or ''}"
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Education:
    """The two resources of one write-back, each with the search that finds it
    if it is there already (its ``If-None-Exist``)."""

    docref: dict[str, Any]
    docref_if: str
    procedure: dict[str, Any]  # its report is filled in when it is sent
    procedure_if: str


def build_bundle(
    plan: Plan,
    pdf: bytes,
    *,
    patient: str,
    encounter: str | None,
    clinician: str | None,
    teach_back: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """The transaction: DocumentReference then Procedure, each created only if
    its identifier is not there yet."""
    return _bundle(
        build_education(
            plan,
            pdf,
            patient=patient,
            encounter=encounter,
            clinician=clinician,
            teach_back=teach_back,
            now=now,
        )
    )


def build_education(
    plan: Plan,
    pdf: bytes,
    *,
    patient: str,
    encounter: str | None,
    clinician: str | None,
    teach_back: str | None,
    now: dt.datetime,
) -> Education:
    """The DocumentReference and the Procedure, checked against the FHIR models."""
    doc = plan.document
    lang = plan.language
    title = doc.title.get(lang) or doc.title[DEFAULT_LANGUAGE]
    english = doc.title[DEFAULT_LANGUAGE]
    when = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    subject = {"reference": f"Patient/{patient}"}
    pdf_id = pdf_identifier(pdf)
    docref: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": PDF_SYSTEM, "value": pdf_id}],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [DOC_TYPE], "text": "Patient education handout"},
        "category": [{"coding": [DOC_CATEGORY]}],
        "subject": subject,
        "date": when,
        "description": f"{english} ({doc.id})",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "language": lang,
                    "data": base64.b64encode(pdf).decode("ascii"),
                    # FHIR's Attachment.hash is the base64 of the SHA-1.
                    "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
                    "size": len(pdf),
                    "title": title,
                    "creation": when,
                }
            }
        ],
    }
    if clinician:
        docref["author"] = [{"display": clinician}]
    if encounter:
        docref["context"] = {"encounter": [{"reference": f"Encounter/{encounter}"}]}
    options = "; ".join(o.title[DEFAULT_LANGUAGE] for o in plan.options) or "none"
    procedure: dict[str, Any] = {
        "resourceType": "Procedure",
        "identifier": [
            {"system": EDUCATION_SYSTEM, "value": education_identifier(pdf, patient, encounter)}
        ],
        "status": "completed",
        "code": {"coding": [EDUCATION], "text": "Patient education"},
        "subject": subject,
        "performedDateTime": when,
        "note": [
            {
                "text": f'Gave the handout "{english}" ({doc.id}, language {lang}). '
                f"Options discussed: {options}."
            }
        ],
    }
    if encounter:
        procedure["encounter"] = {"reference": f"Encounter/{encounter}"}
    if clinician:
        procedure["performer"] = [{"actor": {"display": clinician}}]
    if teach_back:
        procedure["outcome"] = {"text": f"Teach-back: {teach_back}"}
    _validate(docref)
    _validate({**procedure, "report": [{"reference": "DocumentReference/example"}]})
    return Education(
        docref=docref,
        docref_if=f"identifier={PDF_SYSTEM}|{pdf_id}&subject=Patient/{patient}",
        procedure=procedure,
        procedure_if=f"identifier={EDUCATION_SYSTEM}|{procedure['identifier'][0]['value']}",
    )


def _bundle(education: Education) -> dict[str, Any]:
    docref_url = f"urn:uuid:{uuid.uuid4()}"
    procedure = {**education.procedure, "report": [{"reference": docref_url}]}
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": docref_url,
                "resource": education.docref,
                "request": {
                    "method": "POST",
                    "url": "DocumentReference",
                    "ifNoneExist": education.docref_if,
                },
            },
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": procedure,
                "request": {
                    "method": "POST",
                    "url": "Procedure",
                    "ifNoneExist": education.procedure_if,
                },
            },
        ],
    }


def _validate(resource: dict[str, Any]) -> None:
    """Check a resource against the FHIR models before it leaves: a mistake of
    ours is reported here, not as a server's 400. (fhir.resources has R4B, the
    same as R4 for these resources.)"""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        raise EhrError(
            f"handoutgen built an invalid {resource['resourceType']} (a bug; please report "
            f"it): {exc.errors(include_url=False)[:3]}"
        ) from None


def write_back(
    client: FhirClient,
    library: Library,
    plan: Plan,
    pdf: bytes,
    *,
    patient: str,
    encounter: str | None = None,
    clinician: str | None = None,
    teach_back: str | None = None,
    now: dt.datetime | None = None,
) -> Stored:
    """Store the handout and the education event; then one audit row (document,
    content version, teach-back outcome: nothing about the patient)."""
    if teach_back is not None and teach_back not in TEACH_BACK:
        raise EhrError(f"--teach-back {teach_back!r}: use one of {', '.join(TEACH_BACK)}")
    education = build_education(
        plan,
        pdf,
        patient=patient,
        encounter=encounter,
        clinician=clinician,
        teach_back=teach_back,
        now=now or dt.datetime.now(dt.UTC),
    )
    (docref, doc_new), (proc, proc_new) = _send(client, education, pdf)
    try:
        AuditLog(library.workspace).add(
            user=f"cli:{_user()}",
            action="ehr-write-back" if doc_new or proc_new else "ehr-retry",
            document=plan.document.id,
            options=[o.id for o in plan.options],
            language=plan.language,
            page_size=plan.page_size,
            large_print=plan.request.large_print,
            content_hash=library.content_hash,
            pages=page_count(pdf),
            outcome=teach_back or "",
        )
    except (sqlite3.Error, OSError) as exc:
        raise EhrError(
            f"stored in the EHR as {docref} and {proc}, but the audit log could not be "
            f"written ({exc}); tell IT (the disk may be full or the log damaged)"
        ) from None
    return Stored(docref, proc, doc_new or proc_new)


def _send(
    client: FhirClient, education: Education, pdf: bytes
) -> tuple[tuple[str, bool], tuple[str, bool]]:
    """A transaction where the server has them, else two conditional creates."""
    if client.supports_transaction() is not False:
        try:
            answer = client.transaction(
                _bundle(education), "the write-back (DocumentReference and Procedure)"
            )
        except EhrError as exc:
            if exc.status not in NO_TRANSACTIONS:
                raise
            log.info(
                "the FHIR server refused the transaction (%s); writing the DocumentReference "
                "and the Procedure one after the other",
                exc.status,
            )
        else:
            entries = answer.get("entry") or []
            if len(entries) != 2:
                raise EhrError(
                    f"the FHIR server answered the write-back with {len(entries)} entries, not "
                    "2; check the EHR for a DocumentReference with identifier "
                    f"{PDF_SYSTEM}|{pdf_identifier(pdf)}"
                )
            return _stored(entries[0]), _stored(entries[1])
    docref = client.create(
        education.docref, education.docref_if, "the write-back (DocumentReference)"
    )
    procedure = {**education.procedure, "report": [{"reference": docref[0]}]}
    return docref, client.create(
        procedure,
        education.procedure_if,
        "the write-back (Procedure; the DocumentReference is stored)",
    )


def _stored(entry: Any) -> tuple[str, bool]:
    """``Type/id`` of one transaction-response entry, and whether it was created."""
    response = entry.get("response") if isinstance(entry, dict) else None
    if not isinstance(response, dict):
        raise EhrError("the FHIR server answered the write-back without entry responses")
    status = str(response.get("status", ""))
    if not status.startswith(("200", "201")):
        raise EhrError(f"the FHIR server answered part of the write-back with {status!r}")
    resource = entry.get("resource")
    if isinstance(resource, dict) and resource.get("id"):
        ref = f"{resource.get('resourceType')}/{resource['id']}"
    else:
        # Location: [base/]Type/id/_history/vid
        parts = str(response.get("location", "")).split("/_history")[0].rstrip("/").split("/")
        ref = "/".join(parts[-2:])
    return ref, status.startswith("201")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
