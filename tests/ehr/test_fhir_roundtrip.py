"""The EHR round trip through the CLI, against a real FHIR R4 server
(tests/fhirserver.py: SEKMET on loopback, with real SMART tokens)."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from conftest import ROOT, pages_text
from fhirserver import Server, free_port, patient

ANA = [
    {"use": "old", "given": ["Ana"], "family": "Quispe"},
    {"use": "official", "given": ["Ana", "María"], "family": "López"},
]


# The Spanish files a render of neck-surgery reads. Unreviewed machine
# translations are drafts that no patient gets (issue #26), so the clinic's
# workspace in these tests has had them reviewed.
ES_NECK = [
    f"handouts/translations/es/{name}.yaml"
    for name in (
        "neck-surgery",
        "options/cervical-disc-replacement",
        "options/cervical-fusion",
        "warning-signs",
    )
]
WS = ROOT


@pytest.fixture
def ehr(fhir_server, monkeypatch, tmp_path, tmp_ws_translated, run):
    """A token in the environment, the audit log in a private temporary folder,
    and a workspace whose Spanish neck handout a translator has reviewed."""
    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", fhir_server.token())
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    for rel in ES_NECK:
        result = run(
            "translations", "review", rel, "--by", "Ana Example, CHI", workspace=tmp_ws_translated
        )
        assert result.exit_code == 0, result.stderr
    monkeypatch.setattr(sys.modules[__name__], "WS", tmp_ws_translated)
    return fhir_server


def render(run, server: Server, patient_id: str, out: Path, *extra: str):
    return run(
        "render",
        "neck-surgery",
        "--fhir-server",
        server.base,
        "--fhir-patient",
        patient_id,
        "-o",
        str(out),
        *extra,
        workspace=WS,
    )


def stored_pdfs(server: Server, patient_id: str) -> list[bytes]:
    return [
        base64.b64decode(d["content"][0]["attachment"]["data"])
        for d in server.search("DocumentReference", patient=patient_id)
    ]


def test_write_back_stores_the_pdf_and_the_education_once(ehr, run, tmp_path):
    pid = ehr.create(patient(ANA, [("en", False), ("es-MX", True)]))
    enc = ehr.create(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{pid}"},
        }
    )
    out = tmp_path / "handout.pdf"
    args = ["--fhir-encounter", enc, "--write-back", "--clinician", "Dr. Sam Rivera"]
    result = render(run, ehr, pid, out, *args, "--teach-back", "verbalized understanding", "-v")
    assert result.exit_code == 0, result.stderr
    # The preferred entry, not the first; its base language, since the handout has es.
    assert "language es: the preferred language in Patient.communication ('es-MX')" in result.stderr
    pdf = out.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600
    text = " ".join(pages_text(pdf))
    assert "Ana María López" in text and "Quispe" not in text  # the official name, never the old
    assert "Cirugía" in text

    [docref] = ehr.search("DocumentReference", patient=pid)
    attachment = docref["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]) == pdf  # byte for byte
    assert attachment["contentType"] == "application/pdf"
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode()
    assert attachment["language"] == "es"
    assert attachment["title"] == "Cirugía para un disco desgastado en el cuello"
    assert docref["type"]["coding"][0]["code"] == "51855-5"
    assert docref["subject"]["reference"] == f"Patient/{pid}"
    assert docref["context"]["encounter"] == [{"reference": f"Encounter/{enc}"}]
    assert docref["identifier"] == [
        {"system": "urn:handoutgen:pdf-sha256", "value": hashlib.sha256(pdf).hexdigest()}
    ]

    [procedure] = ehr.search("Procedure", patient=pid)
    assert procedure["code"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "311401005",
        "display": "Patient education",
    }
    assert procedure["status"] == "completed"
    assert procedure["performedDateTime"]
    assert procedure["encounter"] == {"reference": f"Encounter/{enc}"}
    assert procedure["performer"] == [{"actor": {"display": "Dr. Sam Rivera"}}]
    assert procedure["outcome"] == {"text": "Teach-back: verbalized understanding"}
    assert procedure["report"] == [{"reference": f"DocumentReference/{docref['id']}"}]
    note = procedure["note"][0]["text"]
    assert "Surgery for a worn disc in the neck" in note and "Fusion in the neck" in note
    assert f"Stored: DocumentReference/{docref['id']}, Procedure/{procedure['id']}" in result.stderr

    # A retry with the same inputs finds both and adds nothing.
    again = render(run, ehr, pid, out, *args, "--teach-back", "verbalized understanding")
    assert again.exit_code == 0, again.stderr
    assert "Already stored (nothing added)" in again.stderr
    assert stored_pdfs(ehr, pid) == [pdf]
    assert len(ehr.search("Procedure", patient=pid)) == 1

    # The audit log: document, content version, outcome; nothing about the patient.
    from handoutgen.content.workspace import Workspace
    from handoutgen.store.audit import read

    rows = read(Workspace.at(WS))
    # (The CLI render's own "cli-pdf" rows are the audit trail's, issue #25.)
    assert [
        (r.action, r.document, r.language, r.outcome) for r in rows if r.action != "cli-pdf"
    ] == [
        ("ehr-write-back", "neck-surgery", "es", "verbalized understanding"),
        ("ehr-retry", "neck-surgery", "es", "verbalized understanding"),
    ]
    raw = (tmp_path / "private" / "audit.sqlite3").read_bytes()
    for secret in (pid, enc, "López", "María", "Sam Rivera", hashlib.sha256(pdf).hexdigest()):
        assert secret.encode() not in raw


def test_no_preferred_language_takes_the_first_and_none_is_english(ehr, run, tmp_path):
    first = ehr.create(patient(ANA, [("es", False), ("en", False)]))
    result = render(run, ehr, first, tmp_path / "a.pdf", "-v")
    assert result.exit_code == 0, result.stderr
    assert (
        "language es: the first language in Patient.communication (none preferred)" in result.stderr
    )
    none = ehr.create(patient(ANA))
    result = render(run, ehr, none, tmp_path / "b.pdf", "-v")
    assert result.exit_code == 0, result.stderr
    assert "language en: English: the record lists no language" in result.stderr
    assert "Surgery for a worn disc" in pages_text((tmp_path / "b.pdf").read_bytes())[0]
    assert ehr.search("DocumentReference", patient=none) == []  # no --write-back, nothing written


def test_a_language_the_handout_lacks_is_refused(ehr, run, tmp_path):
    pid = ehr.create(patient(ANA, [("fr", True)]))
    result = render(run, ehr, pid, tmp_path / "x.pdf", "--write-back")
    assert result.exit_code == 1
    assert "asks for language 'fr'" in result.stderr and "it has: en, es" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.pdf").exists()
    # The clinician may choose after talking with the patient.
    result = render(run, ehr, pid, tmp_path / "x.pdf", "--language", "en")
    assert result.exit_code == 0, result.stderr


def test_a_patient_with_no_name_is_an_error(ehr, run, tmp_path):
    pid = ehr.create(patient([{"use": "old", "family": "Former"}], [("es", True)]))
    result = render(run, ehr, pid, tmp_path / "x.pdf", "--write-back")
    assert result.exit_code == 1
    assert f"Error: Patient/{pid} has no name to print" in result.stderr
    assert not (tmp_path / "x.pdf").exists()
    assert ehr.search("DocumentReference", patient=pid) == []


def test_a_merged_record_is_not_written_to(ehr, run, tmp_path):
    current = ehr.create(patient(ANA))
    old = ehr.create(
        {
            **patient(ANA),
            "link": [{"other": {"reference": f"Patient/{current}"}, "type": "replaced-by"}],
        }
    )
    result = render(run, ehr, old, tmp_path / "x.pdf", "--write-back")
    assert result.exit_code == 1
    assert f"Patient/{old} was replaced by Patient/{current}" in result.stderr
    assert ehr.search("DocumentReference", patient=old) == []


def test_a_bad_token_is_a_clear_error_and_never_shown(ehr, run, tmp_path, monkeypatch):
    pid = ehr.create(patient(ANA))
    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", "not-a-token-7f3a9c")
    result = render(run, ehr, pid, tmp_path / "x.pdf", "--write-back")
    assert result.exit_code == 1
    assert "refused the token" in result.stderr and "401" in result.stderr
    assert "not-a-token-7f3a9c" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_401_at_write_back_keeps_the_pdf_and_a_retry_completes(ehr, run, tmp_path, monkeypatch):
    """The token expires between reading the record and writing the handout:
    the PDF stays (0600), nothing is half-written, the retry writes it once."""
    from handoutgen.ehr.client import FhirClient

    pid = ehr.create(patient(ANA, [("es", True)]))
    real = FhirClient.transaction

    def expired(self, bundle, what):
        self._http.headers["Authorization"] = "Bearer expired-token-51c2"
        return real(self, bundle, what)

    monkeypatch.setattr(FhirClient, "transaction", expired)
    out = tmp_path / "kept.pdf"
    result = render(run, ehr, pid, out, "--write-back")
    assert result.exit_code == 1
    assert "refused the token" in result.stderr
    assert (
        # (Named relative to the working folder, the workspace copy that holds it.)
        f"The PDF is kept at {out.name} (readable" in result.stderr
        and "nothing is stored twice" in result.stderr
    )
    assert (
        "expired-token-51c2" not in result.stderr
        and os.environ["HANDOUTGEN_FHIR_TOKEN"] not in result.stderr
    )
    assert out.stat().st_mode & 0o777 == 0o600
    kept = out.read_bytes()
    assert ehr.search("DocumentReference", patient=pid) == []
    assert ehr.search("Procedure", patient=pid) == []

    monkeypatch.setattr(FhirClient, "transaction", real)
    for _ in range(2):
        result = render(run, ehr, pid, out, "--write-back")
        assert result.exit_code == 0, result.stderr
    assert stored_pdfs(ehr, pid) == [kept]
    assert len(ehr.search("Procedure", patient=pid)) == 1


def test_a_token_that_may_only_read_is_refused_at_write_back(ehr, run, tmp_path, monkeypatch):
    pid = ehr.create(patient(ANA))
    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", ehr.token("reader", "system/*.read"))
    out = tmp_path / "x.pdf"
    result = render(run, ehr, pid, out, "--write-back", "--fhir-client-id", "reader")
    assert result.exit_code == 1
    assert "does not allow the write-back" in result.stderr and "403" in result.stderr
    assert "client 'reader'" in result.stderr
    assert out.exists()
    assert ehr.search("DocumentReference", patient=pid) == []


def test_an_unreachable_server_is_a_clear_error(ehr, run, tmp_path):
    base = f"http://127.0.0.1:{free_port()}/fhir"
    result = run(
        "render",
        "neck-surgery",
        "--fhir-server",
        base,
        "--fhir-patient",
        "p1",
        "-o",
        str(tmp_path / "x.pdf"),
    )
    assert result.exit_code == 1
    assert f"Error: cannot reach the FHIR server at {base}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_server_can_come_from_the_workspace_settings(ehr, run, tmp_path):
    from handoutgen.content.workspace import Workspace
    from handoutgen.store import private

    private.update(
        Workspace.at(ROOT), lambda s: s.update(fhir={"server": ehr.base, "client_id": "handoutgen"})
    )
    assert ehr.base in (tmp_path / "private" / "settings.json").read_text()
    assert (
        os.environ["HANDOUTGEN_FHIR_TOKEN"]
        not in (tmp_path / "private" / "settings.json").read_text()
    )
    pid = ehr.create(patient(ANA))
    result = run("render", "neck-surgery", "--fhir-patient", pid, "-o", str(tmp_path / "x.pdf"))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--write-back"], "--write-back needs --fhir-patient ID"),
        (["--fhir-patient", "p", "--patient", "Ana"], "give --patient or --fhir-patient, not both"),
        (
            ["--fhir-patient", "p", "--teach-back", "not assessed"],
            "--teach-back is recorded with --write-back",
        ),
        (["--fhir-patient", "p", "--write-back", "--format", "html"], "--write-back stores a PDF"),
        (["--fhir-patient", "p", "--write-back", "-o", "-"], "give -o PATH, not -"),
        (["--fhir-patient", "p", "--fhir-server", "http://ehr.example/fhir"], "use https"),
        (["--fhir-patient", "p&_id=x"], "not a FHIR id"),
        (["--fhir-patient", "p", "--fhir-encounter", "../e"], "not a FHIR id"),
    ],
)
def test_flags_that_do_not_go_together(run, args, message, monkeypatch, tmp_path):
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path))
    result = run("render", "neck-surgery", *args)
    assert result.exit_code in (1, 2)
    assert message in result.stderr


def test_the_audit_log_reads_and_extends_a_log_from_before_the_outcome(tmp_path, monkeypatch):
    """A log written before the outcome column: read as "", and extended in place."""
    from handoutgen.content.workspace import Workspace
    from handoutgen.store.audit import AuditLog, read

    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path))
    con = sqlite3.connect(tmp_path / "audit.sqlite3")
    con.execute(
        "CREATE TABLE renders (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user TEXT "
        "NOT NULL, action TEXT NOT NULL, document TEXT NOT NULL, options TEXT NOT NULL, language "
        "TEXT NOT NULL, page_size TEXT NOT NULL, large_print INTEGER NOT NULL, content_hash TEXT "
        "NOT NULL, pages INTEGER NOT NULL)"
    )
    con.execute(
        "INSERT INTO renders VALUES (1, '2026-01-01T00:00:00Z', 'u', 'pdf', 'd', '', 'en', 'letter', 0, 'h', 2)"
    )
    con.commit()
    con.close()
    ws = Workspace.at(ROOT)
    assert [r.outcome for r in read(ws)] == [""]
    AuditLog(ws).add(
        user="u", action="ehr-write-back", document="d", options=[], language="es",
        page_size="letter", large_print=False, content_hash="h", pages=2, outcome="needs reinforcement",
    )  # fmt: skip
    assert [r.outcome for r in read(ws)] == ["", "needs reinforcement"]
