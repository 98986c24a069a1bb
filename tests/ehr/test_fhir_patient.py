"""What a handout takes from a Patient resource, rule by rule (no server)."""

from __future__ import annotations

import pytest

from handoutgen.ehr.client import EhrError, check_base_url
from handoutgen.ehr.patient import Wanted, match_language, patient_name, wanted_language


def test_the_official_name_then_the_usual_then_any_current_one():
    names = [
        {"use": "usual", "given": ["Annie"], "family": "Li"},
        {"use": "maiden", "given": ["Ana"], "family": "Wu"},
        {"use": "official", "given": ["Ana", "Mei"], "family": "Li"},
    ]
    assert patient_name({"name": names}, "Patient/1") == "Ana Mei Li"
    assert patient_name({"name": names[:2]}, "Patient/1") == "Annie Li"
    assert patient_name({"name": [{"text": "  Ana   Li "}]}, "Patient/1") == "Ana Li"
    assert patient_name({"name": [{"family": "Li"}]}, "Patient/1") == "Li"


@pytest.mark.parametrize(
    "record",
    [{}, {"name": []}, {"name": [{"use": "old", "family": "Wu"}]}, {"name": [{"given": [" "]}]}],
)
def test_no_printable_name_is_an_error(record):
    with pytest.raises(EhrError, match="Patient/7 has no name to print"):
        patient_name(record, "Patient/7")


def lang(code, preferred=None, system="urn:ietf:bcp:47"):
    entry = {"language": {"coding": [{"system": system, "code": code}]}}
    if preferred is not None:
        entry["preferred"] = preferred
    return entry


def test_the_preferred_language_then_the_first_then_english():
    both = {"communication": [lang("en"), lang("es-MX", True)]}
    assert wanted_language(both, "P").code == "es-MX"
    assert "preferred" in wanted_language(both, "P").rule
    assert wanted_language({"communication": [lang("zh"), lang("es", False)]}, "P").code == "zh"
    assert wanted_language({}, "P") == Wanted(
        "en", "English: the record lists no language (Patient.communication)"
    )


def test_the_bcp47_coding_wins_over_another_system():
    entry = {
        "language": {
            "coding": [
                {"system": "http://example.org/local", "code": "SPA"},
                {"system": "urn:ietf:bcp:47", "code": "es"},
            ]
        },
        "preferred": True,
    }
    assert wanted_language({"communication": [entry]}, "P").code == "es"


def test_a_language_with_no_code_is_an_error():
    record = {"communication": [{"language": {"text": "Spanish"}, "preferred": True}]}
    with pytest.raises(EhrError, match="has no code \\('Spanish'\\)"):
        wanted_language(record, "Patient/1")


def test_the_document_language_is_the_same_code_or_its_base():
    assert match_language(Wanted("es-MX", "r"), ["en", "es"], "d", "P") == "es"
    assert match_language(Wanted("es-MX", "r"), ["en", "es", "es-MX"], "d", "P") == "es-MX"
    assert match_language(Wanted("ZH", "r"), ["en", "zh"], "d", "P") == "zh"
    with pytest.raises(EhrError, match="asks for language 'yue'"):
        match_language(Wanted("yue", "r"), ["en", "zh"], "d", "P")


@pytest.mark.parametrize(
    "url",
    ["http://ehr.example/fhir", "ftp://x/fhir", "https://user:pw@ehr.example/fhir", "fhir"],
)
def test_a_base_url_that_would_leak_the_token_is_refused(url):
    with pytest.raises(EhrError):
        check_base_url(url)


def test_loopback_http_and_https_are_fine():
    assert check_base_url("http://127.0.0.1:8080/fhir/") == "http://127.0.0.1:8080/fhir"
    assert check_base_url("http://localhost/fhir") == "http://localhost/fhir"
    assert check_base_url("https://ehr.example/fhir") == "https://ehr.example/fhir"


def test_the_cli_offers_the_same_teach_back_answers_as_the_write_back():
    from handoutgen.cli.ehr import TEACH_BACK as CLI
    from handoutgen.ehr.writeback import TEACH_BACK

    assert CLI == TEACH_BACK


def test_a_merged_or_inactive_record_is_refused():
    from handoutgen.ehr.patient import check_not_merged

    merged = {"link": [{"type": "replaced-by", "other": {"reference": "Patient/9"}}]}
    with pytest.raises(EhrError, match="Patient/1 was replaced by Patient/9"):
        check_not_merged(merged, "Patient/1")
    with pytest.raises(EhrError, match="not active"):
        check_not_merged({"active": False}, "Patient/1")
    check_not_merged({"active": True, "link": [{"type": "seealso"}]}, "Patient/1")
