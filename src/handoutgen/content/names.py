"""Names as a letter prints them: an all-caps export's "MARIA GONZALEZ" or
"GONZALEZ, MARIA" as "Maria Gonzalez", a provider list's "RIVERA, SAM MD" as
"Sam Rivera, MD".

Only a name typed in capitals is recased: any name with a lowercase letter is
someone's own spelling and is kept as typed, and so is a name the parser
(nameparser) cannot read back with the same letters. Nothing here raises.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

log = logging.getLogger("handoutgen")

# Credentials after a clinician's name, as written in capitals; the few written
# otherwise are spelled out. "DO" is here because nameparser reads it as the
# Portuguese particle ("Sam do Rivera").
CREDENTIALS = frozenset(
    "MD DO NP PA PA-C DPT PT OT PHD PSYD RN BSN MSN APRN FNP FNP-C ANP CNM CNS CRNA DNP DC "
    "DDS DMD OD PHARMD MPH MS MA LCSW LPN FACS FAAOS FAANS FACP FAAPMR MBBS".split()
)
_CREDENTIAL_CASE = {"PHD": "PhD", "PSYD": "PsyD", "PHARMD": "PharmD"}
# What else may follow a patient's name; anything more ("A, B, C, D") is not a
# name nameparser read, and stays as typed.
GENERATIONS = frozenset("JR SR II III IV V".split())
# nameparser writes every "Mac..." as "MacX" (Machado -> "MacHado"): only these
# surnames, where the capital is the usual spelling, keep it.
MAC_NAMES = frozenset(
    "macarthur macaulay macdonald macdougall macfarlane macgregor macinnes macintosh "
    "macintyre mackay mackenzie maclachlan maclean macleod macmillan macneil macpherson "
    "macqueen macrae".split()
)
_MAC = re.compile(r"\bMac([A-Z]\w*)")
_TOKEN_END = re.compile(r"[\s,]+([A-Za-z.\-]+)\s*$")


def shouted(value: str) -> bool:
    """Typed in capitals: cased letters, none of them lowercase ("李明" is not)."""
    return any(c.isupper() for c in value) and not any(c.islower() for c in value)


def _letters(value: str) -> Counter[str]:
    return Counter(c for c in value.casefold() if c.isalnum())


def _fix_mac(word: re.Match[str]) -> str:
    whole = word.group(0)
    return whole if whole.lower() in MAC_NAMES else "Mac" + word.group(1).lower()


def _recased(value: str) -> Any | None:
    """nameparser's reading of a name, in proper case (None: it could not)."""
    try:
        from nameparser import HumanName

        name = HumanName(value)
        name.capitalize(force=True)
    except Exception:  # noqa: BLE001 - a name the parser chokes on is kept as typed
        log.debug("name not parsed; kept as typed", exc_info=True)
        return None
    suffixes = [s.replace(".", "").upper() for s in re.split(r"[\s,]+", name.suffix) if s]
    if any(s not in GENERATIONS and s not in CREDENTIALS for s in suffixes):
        return None  # more than a name ("A, B, C, D")
    return name


def _checked(out: str, value: str) -> str:
    """``out`` if it holds the same letters as ``value`` (nothing lost, nothing
    made up), else ``value`` as typed."""
    out = _MAC.sub(_fix_mac, " ".join(out.split()))
    return out if out and _letters(out) == _letters(value) else value


def person_name(value: str | None) -> str | None:
    """A patient's whole name in proper case, given name first ("GONZALEZ,
    MARIA" -> "Maria Gonzalez"); as typed unless it was typed in capitals."""
    if not value or not shouted(value):
        return value
    name = _recased(value)
    if name is None:
        return value
    nick = f"({name.nickname})" if name.nickname else ""
    out = " ".join(
        p for p in (name.title, name.first, nick, name.middle, name.last, name.suffix) if p
    )
    # A name starts with a capital, even a particle ("DE LA CRUZ" alone).
    return _checked(out[:1].upper() + out[1:], value)


def given_name(value: str | None) -> str | None:
    """A first-name field in proper case ("JEAN-LUC" -> "Jean-Luc", "MARIA DE
    LOURDES" -> "Maria de Lourdes"): read in the order typed, never reordered."""
    if not value or "," in value:
        return value
    return person_name(value)


def family_name(value: str | None) -> str | None:
    """A last-name field in proper case, read as a surname ("DE LA CRUZ" ->
    "de la Cruz", "MCDONALD" -> "McDonald"); as typed unless typed in capitals."""
    if not value or not shouted(value):
        return value
    # A stand-in given name makes nameparser read the whole field as the surname.
    name = _recased(f"{value}, Q")
    if name is None or name.first != "Q" or name.middle or name.title or name.nickname:
        return value
    out = " ".join(p for p in (name.last, name.suffix) if p)
    return _checked(out[:1].upper() + out[1:] if " " not in out else out, value)


def _credential(token: str) -> str | None:
    """ "MD" -> "MD", "PHD" -> "PhD", "M.D." as written; None: not a credential."""
    key = token.replace(".", "").upper()
    if key not in CREDENTIALS:
        return None
    return token if "." in token else _CREDENTIAL_CASE.get(key, key)


def clinician_name(value: str | None) -> str | None:
    """ "RIVERA, SAM MD" or "SAM RIVERA MD" -> "Sam Rivera, MD"; "RIVERA, SAM MD,
    PHD" -> "Sam Rivera, MD, PhD". A name with a lowercase letter stays as typed."""
    if not value or not shouted(value):
        return value
    rest, credentials = value.strip().rstrip(" ,"), list[str]()
    if _credential(rest):  # a credential alone ("MD") is no name to recase
        return value
    while True:
        m = _TOKEN_END.search(rest)
        if not m or m.start() == 0:
            break
        credential = _credential(m.group(1))
        if credential is None:
            break
        credentials.insert(0, credential)
        rest = rest[: m.start()].rstrip(" ,")
    name = person_name(rest)
    if not name or name == rest and shouted(rest):  # not parsed: all of it as typed
        return value
    return ", ".join([name, *credentials])
