"""Names as a letter prints them (content/names.py): all-caps exports in proper
case, without breaking McDonald, O'Brien, de la Cruz or a name someone typed
their own way; a name the parser cannot read is kept as typed."""

from __future__ import annotations

import pytest

from handoutgen.content.names import clinician_name, family_name, given_name, person_name


@pytest.mark.parametrize(
    ("typed", "printed"),
    [
        ("MARIA GONZALEZ", "Maria Gonzalez"),
        ("GONZALEZ, MARIA", "Maria Gonzalez"),
        ("SEAN O'BRIEN", "Sean O'Brien"),
        ("ANGUS MCDONALD", "Angus McDonald"),
        ("ROSS MACDONALD", "Ross MacDonald"),
        ("ANA MACHADO", "Ana Machado"),  # not "MacHado"
        ("LUIS MACIAS", "Luis Macias"),
        ("MARIA DE LA CRUZ", "Maria de la Cruz"),
        ("DE LA CRUZ, MARIA", "Maria de la Cruz"),
        ("ANA LOPEZ-GARCIA", "Ana Lopez-Garcia"),
        ("MARY-KATE O'NEIL", "Mary-Kate O'Neil"),
        ("JEAN-LUC PICARD", "Jean-Luc Picard"),
        ("SMITH, JOHN, JR", "John Smith Jr"),
        ("DAVID LLOYD III", "David Lloyd III"),
        ("ANH LE", "Anh Le"),
        ("MARÍA JOSÉ NÚÑEZ", "María José Núñez"),
        ("JOHN (JACK) SMITH", "John (Jack) Smith"),
    ],
)
def test_an_all_caps_name_is_put_in_proper_case(typed, printed):
    assert person_name(typed) == printed


@pytest.mark.parametrize(
    "typed",
    [
        "Maria McDonald",  # mixed case: the patient's own spelling wins
        "Ana de la Cruz",
        "DeShawn MacIas",
        "bell hooks",
        "李明",  # no letter case at all
        "محمد علي",
        "A, B, C, D",  # nameparser reads a suffix "C, D": not a name, as typed
        ",,,",
        "-",
        "",
        None,
    ],
)
def test_any_other_name_is_kept_as_typed(typed):
    assert person_name(typed) == typed


def test_a_name_the_parser_chokes_on_is_kept_as_typed(monkeypatch):
    import nameparser

    def boom(*args, **kwargs):
        raise ValueError("cannot parse")

    monkeypatch.setattr(nameparser, "HumanName", boom)
    assert person_name("MARIA GONZALEZ") == "MARIA GONZALEZ"
    assert clinician_name("RIVERA, SAM MD") == "RIVERA, SAM MD"


@pytest.mark.parametrize(
    ("typed", "given", "family"),
    [
        ("MARIA", "Maria", "Maria"),
        ("DE LA CRUZ", "De la Cruz", "de la Cruz"),
        ("MCDONALD", "McDonald", "McDonald"),
        ("O'BRIEN", "O'Brien", "O'Brien"),
        ("LOPEZ-GARCIA", "Lopez-Garcia", "Lopez-Garcia"),
        ("VAN DER BERG", "Van der Berg", "van der Berg"),
        ("MACHADO", "Machado", "Machado"),
        ("Y", "Y", "Y"),
        ("MARY ANN", "Mary Ann", "Mary Ann"),
        ("Ng", "Ng", "Ng"),
    ],
)
def test_first_and_last_name_fields(typed, given, family):
    # A family-name field is read as one surname, whatever its particles.
    assert family_name(typed) == family
    assert given_name(typed) == given


@pytest.mark.parametrize(
    ("typed", "printed"),
    [
        ("RIVERA, SAM MD", "Sam Rivera, MD"),
        ("SAM RIVERA, MD", "Sam Rivera, MD"),
        ("SAM RIVERA MD", "Sam Rivera, MD"),
        ("RIVERA, SAM MD,", "Sam Rivera, MD"),
        ("RIVERA, SAM DO", "Sam Rivera, DO"),  # not the particle "do"
        ("RIVERA, SAM PA-C", "Sam Rivera, PA-C"),
        ("RIVERA, SAM MD, PHD", "Sam Rivera, MD, PhD"),
        ("RIVERA, SAM MD FACS", "Sam Rivera, MD, FACS"),
        ("RIVERA, SAM M.D.", "Sam Rivera, M.D."),
        ("MCDONALD, ANGUS MD", "Angus McDonald, MD"),
        ("DE LA CRUZ, MARIA NP", "Maria de la Cruz, NP"),
        ("DR. SAM RIVERA", "Dr. Sam Rivera"),
        # As typed: mixed case, a credential alone, no letters.
        ("Rivera, Sam MD", "Rivera, Sam MD"),
        ("Dr. Sam Rivera", "Dr. Sam Rivera"),
        ("MD", "MD"),
        ("---", "---"),
        (None, None),
    ],
)
def test_clinician_names(typed, printed):
    assert clinician_name(typed) == printed


def test_recasing_is_idempotent():
    for typed in ("MARIA DE LA CRUZ", "RIVERA, SAM MD, PHD", "SEAN O'BRIEN"):
        once = clinician_name(typed)
        assert clinician_name(once) == once and person_name(once) == once
