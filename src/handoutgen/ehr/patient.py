"""What a handout takes from a FHIR Patient: the name to print and the
language to print in.

Read as plain JSON and checked field by field (a real record carries much we
do not need, and need not pass a strict model to give a name)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from handoutgen.content.models import DEFAULT_LANGUAGE, normalize_language
from handoutgen.ehr.client import EhrError

log = logging.getLogger("handoutgen")

# HumanName.use, most wanted first; "old", "maiden" and "anonymous" never print.
NAME_USES = ("official", "usual")
UNPRINTABLE_USES = {"old", "maiden", "anonymous"}
BCP47 = "urn:ietf:bcp:47"


@dataclass(frozen=True)
class Fixes:
    """How the user gives what the record cannot: render's flags by default; a
    batch names its columns (ehr/rows.py)."""

    name: str = "pass --patient NAME instead of --fhir-patient"
    language: str = "pass --language CODE"
    current: str = "use the current record's id"
    name_other: bool = True  # name the record that replaced a merged one


RENDER = Fixes()


@dataclass(frozen=True)
class Wanted:
    """A language the record asks for, and the rule that picked it."""

    code: str  # as the record has it (BCP-47), or DEFAULT_LANGUAGE
    rule: str


def check_not_merged(patient: dict[str, Any], ref: str, fixes: Fixes = RENDER) -> None:
    """A record merged into another is not written to: the handout would sit
    in a chart no one reads."""
    for link in _list(patient.get("link")):
        if isinstance(link, dict) and link.get("type") == "replaced-by":
            other = (
                (link.get("other") or {}).get("reference")
                if isinstance(link.get("other"), dict)
                else None
            )
            other = other if fixes.name_other else None
            raise EhrError(
                f"{ref} was replaced by {other or 'another record'} (Patient.link replaced-by); "
                f"{fixes.current}"
            )
    if patient.get("active") is False:
        raise EhrError(f"{ref} is not active (Patient.active is false); {fixes.current}")


def patient_name(patient: dict[str, Any], ref: str, fixes: Fixes = RENDER) -> str:
    """Given names and family name of the official name, else the usual one,
    else the first current one; its ``text`` when it has no parts."""
    names = [n for n in _list(patient.get("name")) if isinstance(n, dict)]
    current = [n for n in names if n.get("use") not in UNPRINTABLE_USES]
    ranked = sorted(
        current,
        key=lambda n: NAME_USES.index(n["use"]) if n.get("use") in NAME_USES else len(NAME_USES),
    )
    for name in ranked:
        given = [g for g in _list(name.get("given")) if isinstance(g, str) and g.strip()]
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        text = " ".join([*given, family or ""]).split()
        if text:
            return " ".join(text)
        if isinstance(name.get("text"), str) and name["text"].strip():
            return " ".join(name["text"].split())
    raise EhrError(
        f"{ref} has no name to print (Patient.name has no official or usual name with given "
        f"or family parts); correct the record in the EHR, or {fixes.name}"
    )


def wanted_language(patient: dict[str, Any], ref: str, fixes: Fixes = RENDER) -> Wanted:
    """The preferred entry of Patient.communication, else the first, else English."""
    entries = [c for c in _list(patient.get("communication")) if isinstance(c, dict)]
    preferred = [c for c in entries if c.get("preferred") is True]
    if preferred:
        return Wanted(
            _code(preferred[0], ref, fixes), "the preferred language in Patient.communication"
        )
    if entries:
        return Wanted(
            _code(entries[0], ref, fixes),
            "the first language in Patient.communication (none preferred)",
        )
    return Wanted(DEFAULT_LANGUAGE, "English: the record lists no language (Patient.communication)")


def _code(entry: dict[str, Any], ref: str, fixes: Fixes) -> str:
    concept: dict[str, Any] = entry.get("language") or {}
    if not isinstance(concept, dict):
        concept = {}
    codings = [c for c in _list(concept.get("coding")) if isinstance(c, dict)]
    codings.sort(key=lambda c: c.get("system") != BCP47)  # the BCP-47 coding first
    for coding in codings:
        if isinstance(coding.get("code"), str) and coding["code"].strip():
            return coding["code"].strip()
    said = concept.get("text") if isinstance(concept.get("text"), str) else "no code"
    raise EhrError(
        f"{ref}: a Patient.communication language has no code ({said!r}); code it in the EHR "
        f"(BCP-47, like 'es'), or {fixes.language}"
    )


def match_language(
    wanted: Wanted, available: list[str], document: str, ref: str, fixes: Fixes = RENDER
) -> str:
    """The document's language for ``wanted``: the same code, else its base
    language ('es-MX' -> 'es'). A language the document lacks is an error, not
    English in silence: the patient asked for it."""
    code = wanted.code.replace("_", "-")
    tries = []
    try:
        tries.append(normalize_language(code))
    except ValueError:
        pass
    tries.append(code.split("-")[0].lower())
    for lang in tries:
        if lang in available:
            log.info(
                "language %s: %s%s",
                lang,
                wanted.rule,
                "" if lang == code else f" ('{code}')",
            )
            return lang
    fix = fixes.language[:1].upper() + fixes.language[1:]
    raise EhrError(
        f"{ref} asks for language '{code}' ({wanted.rule}), and '{document}' has no "
        f"translation in it (it has: {', '.join(available)}). {fix} "
        "to give one of those after talking with the patient, or add the translation"
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
