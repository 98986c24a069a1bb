"""`batch` rows filled from the EHR (a fhir_patient column) and each letter
written back, through the CLI against the session's real FHIR server
(tests/fhirserver.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from conftest import pages_text, read_manifest, write_csv
from fhirserver import Server, free_port, patient

ANA = [{"use": "official", "given": ["Ana", "María"], "family": "López"}]
OMAR = [{"use": "official", "given": ["Omar"], "family": "Haddad"}]
HEADER = "id,fhir_patient,address1,city,state,zip"
# The Spanish files a Spanish follow-up letter reads, reviewed by a translator
# (unreviewed machine translations are drafts no patient gets).
ES_FOLLOWUP = [
    f"handouts/translations/es/{name}.yaml"
    for name in (
        "followup-letter",
        "options/conservative-care",
        "options/radiofrequency-ablation",
        "options/spinal-cord-stimulation",
        "warning-signs",
    )
]


@pytest.fixture
def ehr(fhir_server, monkeypatch, tmp_path, tmp_ws_translated, run):
    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", fhir_server.token())
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    for rel in ES_FOLLOWUP:
        result = run(
            "translations", "review", rel, "--by", "Ana Example, CHI", workspace=tmp_ws_translated
        )
        assert result.exit_code == 0, result.stderr
    return fhir_server


def batch(run, server: Server | str, src: Path, out: Path, *extra: str):
    base = server if isinstance(server, str) else server.base
    return run(
        "batch",
        "followup-letter",
        str(src),
        "-o",
        str(out),
        "--fhir-server",
        base,
        "--letter-date",
        "2026-11-22",
        "--workers",
        "1",
        *extra,
        workspace=Path.cwd(),
    )


def stored(server: Server, pid: str) -> tuple[list[bytes], list[dict]]:
    docs = server.search("DocumentReference", patient=pid)
    procedures = server.search("Procedure", patient=pid)
    return [base64.b64decode(d["content"][0]["attachment"]["data"]) for d in docs], procedures


def test_rows_from_the_record_and_one_write_back_per_letter(ehr, run, tmp_path):
    ana = ehr.create(patient(ANA, [("en", False), ("es-MX", True)]))
    omar = ehr.create(patient(OMAR))
    french = ehr.create(patient(OMAR, [("fr", True)]))
    rows = [
        f"P-1,{ana},12 Oak St,Springfield,IL,62704",
        f"P-2,{omar},5 Elm St,Springfield,IL,62701",
        f"P-3,{french},9 Pine Rd,Chicago,IL,60601",
        f"P-4,{omar},,,,",
        "P-5,no-such-patient-77,9 Pine Rd,Chicago,IL,60601",
    ]
    src = write_csv(tmp_path / "r.csv", rows, HEADER)
    out = tmp_path / "out"
    result = batch(run, ehr, src, out, "--write-back")
    assert result.exit_code == 3, result.stderr  # letters for some rows, errors for others
    err = result.stderr
    # Row errors name the row and the record id the file gave; never the
    # patient's name or FHIR id.
    assert "r.csv:4 (id P-3): fhir_patient: the record asks for language 'fr'" in err
    assert "r.csv:5 (id P-4): address1: missing; a letter needs a full mailing address" in err
    assert "r.csv:6 (id P-5): fhir_patient: the EHR has no such Patient (404)" in err
    for secret in (ana, omar, french, "no-such-patient-77", "López", "Haddad"):
        assert secret not in err + result.stdout
    assert "Stored in the EHR: 2 letters." in err

    pdf_1, pdf_2 = (out / "P-1.pdf").read_bytes(), (out / "P-2.pdf").read_bytes()
    assert (out / "P-1.pdf").stat().st_mode & 0o777 == 0o600
    text_1 = " ".join(pages_text(pdf_1))
    assert "Ana María López" in text_1 and "Estimado" in text_1  # the record's name and language
    assert "Omar Haddad" in " ".join(pages_text(pdf_2))

    def exactly_once() -> None:
        for pid, pdf in ((ana, pdf_1), (omar, pdf_2)):
            docs, procedures = stored(ehr, pid)
            assert docs == [pdf]  # byte for byte
            [procedure] = procedures
            assert procedure["code"]["coding"][0]["code"] == "311401005"
        assert stored(ehr, french) == ([], [])

    exactly_once()
    manifest = {r["id"]: r for r in read_manifest(out)}
    assert manifest["P-1"]["ehr"] == manifest["P-2"]["ehr"] == "stored"

    # --resume keeps the PDFs and sends nothing: the manifest says they are stored.
    again = batch(run, ehr, src, out, "--write-back", "--resume")
    assert again.exit_code == 3, again.stderr
    assert "resumed 2" in again.stderr and "Stored in the EHR" not in again.stderr
    exactly_once()
    # A full rerun renders the same bytes, and the EHR finds them.
    again = batch(run, ehr, src, out, "--write-back", "--overwrite")
    assert again.exit_code == 3, again.stderr
    assert "Stored in the EHR: 0 letters; 2 already there (nothing added)." in again.stderr
    exactly_once()


def test_a_refused_token_stops_the_batch_once_before_rendering(ehr, run, tmp_path, monkeypatch):
    pids = [ehr.create(patient(ANA)) for _ in range(3)]
    rows = [f"P-{i},{pid},12 Oak St,Springfield,IL,62704" for i, pid in enumerate(pids)]
    src = write_csv(tmp_path / "r.csv", rows, HEADER)
    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", "not-a-token-7f3a9c")
    out = tmp_path / "out"
    result = batch(run, ehr, src, out, "--write-back")
    assert result.exit_code == 1
    assert result.stderr.count("refused the token") == 1 and "401" in result.stderr
    assert "not-a-token-7f3a9c" not in result.stderr
    assert not any(pid in result.stderr for pid in pids)
    assert not list(out.glob("*.pdf")) if out.exists() else True


def test_an_unreachable_server_stops_the_batch_once(ehr, run, tmp_path):
    rows = [f"P-{i},p{i},12 Oak St,Springfield,IL,62704" for i in range(3)]
    src = write_csv(tmp_path / "r.csv", rows, HEADER)
    base = f"http://127.0.0.1:{free_port()}/fhir"
    out = tmp_path / "out"
    result = batch(run, base, src, out)
    assert result.exit_code == 1
    assert result.stderr.count(f"cannot reach the FHIR server at {base}") == 1
    assert not out.exists() or not list(out.glob("*.pdf"))


def test_a_failed_write_back_keeps_the_letters_and_a_rerun_stores_only_those(
    ehr, run, tmp_path, monkeypatch
):
    """A token that may read but not write: the letters are made and kept
    (0600), the report lists the rows to retry, and a --resume with a good
    token stores exactly those, rendering nothing."""
    ana, omar = ehr.create(patient(ANA)), ehr.create(patient(OMAR))
    rows = [
        f"P-1,{ana},12 Oak St,Springfield,IL,62704",
        f"P-2,{omar},5 Elm St,Springfield,IL,62701",
    ]
    src = write_csv(tmp_path / "r.csv", rows, HEADER)
    out = tmp_path / "out"
    good_token = ehr.token()
    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", ehr.token("reader", "system/*.read"))
    result = batch(run, ehr, src, out, "--write-back", "--fhir-client-id", "reader")
    assert result.exit_code == 3, result.stderr
    err = result.stderr
    assert err.count("does not allow the write-back") == 1 and "client 'reader'" in err
    assert "Not stored in the EHR: rows 2 (id P-1), 3 (id P-2)" in err
    assert "--resume --letter-date 2026-11-22" in err
    assert ana not in err and omar not in err
    kept = {i: (out / f"{i}.pdf").read_bytes() for i in ("P-1", "P-2")}
    assert all((out / f"{i}.pdf").stat().st_mode & 0o777 == 0o600 for i in kept)
    assert [r["ehr"].startswith("not stored") for r in read_manifest(out)] == [True, True]
    assert stored(ehr, ana) == ([], [])

    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", good_token)
    again = batch(run, ehr, src, out, "--write-back", "--resume")
    assert again.exit_code == 0, again.stderr
    assert (
        "Rendered 0, resumed 2" in again.stderr and "Stored in the EHR: 2 letters." in again.stderr
    )
    for pid, rid in ((ana, "P-1"), (omar, "P-2")):
        docs, procedures = stored(ehr, pid)
        assert docs == [kept[rid]] and len(procedures) == 1
    assert [r["ehr"] for r in read_manifest(out)] == ["stored", "stored"]


def test_fhir_rows_and_flags_that_do_not_go_together(ehr, run, tmp_path):
    pid = ehr.create(patient(ANA))
    src = write_csv(
        tmp_path / "r.csv",
        [
            f"P-1,{pid},Ana Li,12 Oak St,Springfield,IL,62704",
            "P-2,bad id!,,12 Oak St,Springfield,IL,62704",
        ],
        "id,fhir_patient,name,address1,city,state,zip",
    )
    result = batch(run, ehr, src, tmp_path / "out", "--dry-run")
    assert result.exit_code == 1
    assert (
        "r.csv:2 (id P-1): name: the row gives both a name and a fhir_patient id" in result.stderr
    )
    assert "r.csv:3 (id P-2): fhir_patient: not a FHIR id" in result.stderr
    plain = write_csv(
        tmp_path / "p.csv",
        ["P-1,Ana Li,12 Oak St,Springfield,IL,62704"],
        "id,name,address1,city,state,zip",
    )
    result = batch(run, ehr, plain, tmp_path / "out", "--write-back")
    assert result.exit_code == 1
    assert "--write-back stores the letters of rows with a fhir_patient id" in result.stderr
