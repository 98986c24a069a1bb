"""`render --fhir-patient`: the EHR round trip's flags and their steps around
a render (read the Patient before, write the handout back after)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from handoutgen.cli.base import _library

log = logging.getLogger("handoutgen")
F = TypeVar("F", bound=Callable[..., Any])
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

# Kept here (not imported from ehr.writeback) so `--help` imports no HTTP client.
TEACH_BACK = (
    "verbalized understanding",
    "demonstrated understanding",
    "needs reinforcement",
    "not assessed",
)


def fhir_options(f: F) -> F:
    """The EHR flags of `render`."""
    options = [
        click.option(
            "--fhir-server",
            metavar="URL",
            help="The EHR's FHIR R4 base URL (https; http only on localhost). Default: "
            '"fhir": {"server": URL} in .handoutgen/settings.json. The access token comes from '
            "$HANDOUTGEN_FHIR_TOKEN.",
        ),
        click.option(
            "--fhir-client-id",
            metavar="ID",
            help="The client id the EHR registered handoutgen under (named in errors); default: "
            "the settings' fhir.client_id.",
        ),
        click.option(
            "--fhir-patient",
            metavar="ID",
            help="Read the patient's name and language from the EHR's Patient/ID "
            "(instead of --patient).",
        ),
        click.option(
            "--fhir-encounter",
            metavar="ID",
            help="The visit (Encounter/ID) the write-back belongs to.",
        ),
        click.option(
            "--write-back",
            is_flag=True,
            help="Store the PDF in the EHR (DocumentReference) with a patient-education "
            "Procedure; a retry stores nothing twice.",
        ),
        click.option(
            "--teach-back",
            type=click.Choice(TEACH_BACK),
            help="How the patient showed understanding (Procedure.outcome and the audit log).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass
class EhrRun:
    """One render's EHR steps."""

    client: Any  # FhirClient, imported only when the EHR is used
    patient_id: str
    encounter: str | None
    write_back: bool
    teach_back: str | None

    @property
    def ref(self) -> str:
        return f"Patient/{self.patient_id}"

    def fill(self, ctx: click.Context, document: str, language: str | None) -> tuple[str, str]:
        """The name to print and the language to print in, from the record."""
        from handoutgen.ehr.patient import (
            check_not_merged,
            match_language,
            patient_name,
            wanted_language,
        )
        from handoutgen.render.context import document_languages

        library = _library(ctx)
        record = self.client.read("Patient", self.patient_id)
        check_not_merged(record, self.ref)
        name = patient_name(record, self.ref)
        if language:
            log.info("language %s: from --language (the record is not asked)", language)
            return name, language
        wanted = wanted_language(record, self.ref)
        return name, match_language(
            wanted, document_languages(library, document), document, self.ref
        )

    def store(
        self, ctx: click.Context, request: Any, pdf: bytes, path: Path, clinician: str | None
    ) -> None:
        """Write the handout back; on failure say where the local PDF is."""
        from handoutgen.content.workspace import display_path
        from handoutgen.ehr.client import EhrError
        from handoutgen.ehr.writeback import write_back
        from handoutgen.pipeline import plan

        library = _library(ctx)
        try:
            stored = write_back(
                self.client,
                library,
                plan(library, request),
                pdf,
                patient=self.patient_id,
                encounter=self.encounter,
                clinician=clinician,
                teach_back=self.teach_back,
            )
        except EhrError as exc:
            raise EhrError(
                f"{exc.format_message()}. The PDF is kept at {display_path(path.resolve())} "
                "(readable by you only); run the same command again to retry: nothing is "
                "stored twice"
            ) from None
        if not ctx.obj["quiet"]:
            how = "Stored" if stored.created else "Already stored (nothing added)"
            click.echo(f"{how}: {stored.document_reference}, {stored.procedure}", err=True)


def start(
    ctx: click.Context,
    *,
    server: str | None,
    client_id: str | None,
    patient_id: str | None,
    encounter: str | None,
    write_back: bool,
    teach_back: str | None,
    patient: str | None,
    fmt: str | None,
    output: str | None,
) -> EhrRun | None:
    """Check the EHR flags together and connect; None when none are given."""
    if not patient_id:
        for flag, given in (
            ("--fhir-encounter", encounter),
            ("--write-back", write_back),
            ("--teach-back", teach_back),
        ):
            if given:
                raise click.UsageError(f"{flag} needs --fhir-patient ID")
        return None
    if patient:
        raise click.UsageError("give --patient or --fhir-patient, not both")
    for flag, value in (("--fhir-patient", patient_id), ("--fhir-encounter", encounter)):
        if value is not None and not FHIR_ID.fullmatch(value):
            # It goes into URLs and search strings: only what FHIR allows in an id.
            raise click.UsageError(
                f"{flag} {value!r}: not a FHIR id (letters, digits, '-' and '.', up to 64)"
            )
    if teach_back and not write_back:
        raise click.UsageError("--teach-back is recorded with --write-back; add it")
    if write_back and (fmt or "pdf").lower() != "pdf":
        raise click.UsageError("--write-back stores a PDF; drop --format")
    if write_back and output == "-":
        raise click.UsageError("--write-back keeps the PDF in a file too: give -o PATH, not -")
    from handoutgen.content.workspace import Workspace
    from handoutgen.ehr.client import FhirClient, FhirSettings

    settings = FhirSettings.resolve(Workspace.at(ctx.obj["workspace"]), server, client_id)
    client = ctx.with_resource(FhirClient(settings))
    return EhrRun(client, patient_id, encounter, write_back, teach_back)


def batch_options(f: F) -> F:
    """The EHR flags of `batch` (rows with a fhir_patient id)."""
    options = [
        click.option(
            "--fhir-server",
            metavar="URL",
            help="The EHR that rows with a fhir_patient id are read from (their name and "
            "language); as for render. Token: $HANDOUTGEN_FHIR_TOKEN.",
        ),
        click.option(
            "--fhir-client-id",
            metavar="ID",
            help="The client id the EHR registered handoutgen under (named in errors).",
        ),
        click.option(
            "--write-back",
            is_flag=True,
            help="Store each letter of a fhir_patient row in the EHR as render --write-back "
            "does (each rendered in full); a rerun stores only what is missing.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def batch_chart(
    ctx: click.Context, server: str | None, client_id: str | None, write_back: bool
) -> Any:
    """The EHR for a batch's fhir_patient rows (mailing/chart.py), connected
    only if a row has one."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.ehr.client import FhirSettings
    from handoutgen.ehr.rows import RowChart

    workspace = Workspace.at(ctx.obj["workspace"])
    chart = RowChart(
        lambda: FhirSettings.resolve(workspace, server, client_id), write_back=write_back
    )
    ctx.call_on_close(chart.close)
    return chart
