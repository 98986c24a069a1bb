"""Mailing addresses: states, ZIP codes, USPS Publication 28 form
(usaddress-scourgify) and whether a state matches its ZIP code (the offline
``zipcodes`` data). Messages never echo an address: a row number and a
field name say where to look."""

from __future__ import annotations

import re
from typing import Any

US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
    "guam": "GU", "us virgin islands": "VI", "american samoa": "AS",
    "northern mariana islands": "MP",
}  # fmt: skip
STATE_CODES = set(US_STATES.values()) | {"AA", "AE", "AP", "FM", "MH", "PW"}
ZIP_RE = re.compile(r"^\d{5}(-\d{4})?$")
# Lines a carrier cannot deliver to, or that are not an address at all.
_UNDELIVERABLE = re.compile(
    r"\b(unknown|homeless|no address|none|n/?a|returned mail|bad address|deceased|"
    r"do not mail|general delivery)\b",
    re.I,
)
_PO_BOX = re.compile(r"^\s*p\.?\s*o\.?\s*box\s+(\w+)\s*$", re.I)


def state_code(value: str) -> str | None:
    state = value.strip().rstrip(".")
    return state.upper() if state.upper() in STATE_CODES else US_STATES.get(state.lower())


def fix_zip(value: str) -> tuple[str | None, str]:
    """(the ZIP code, a warning) or (None, the problem)."""
    text = value.strip()
    digits = text.replace("-", "").replace(" ", "")
    if ZIP_RE.match(text):
        return text, ""
    if digits.isdigit() and len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}", ""
    # A spreadsheet that stored the ZIP as a number lost its leading zeros.
    if digits.isdigit() and len(digits) in (3, 4):
        return digits.zfill(5), (
            f"had {len(digits)} digits; restored the leading zero a spreadsheet drops when it "
            "stores ZIP codes as numbers (format the column as text to keep them)"
        )
    if digits.isdigit() and len(digits) in (7, 8):
        full = digits.zfill(9)
        return f"{full[:5]}-{full[5:]}", (
            "restored the leading zero of a ZIP+4 that a spreadsheet stored as a number"
        )
    return None, "not a US ZIP code; use 12345 or 12345-6789"


def zip_state(zip_code: str) -> str | None:
    """The state a ZIP code is in (offline data); None if it is not known."""
    import zipcodes

    try:
        found = zipcodes.matching(zip_code[:5])
    except (ValueError, TypeError):
        return None
    return found[0]["state"] if found else None


def usps(fields: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Normalise a row's address in place to USPS Publication 28 form (upper
    case, standard abbreviations: "12 Oak Street Apt 4" -> "12 OAK ST", "APT 4").
    Returns (problems, warnings) as (field, message)."""
    problems: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    zip_code, state = fields.get("zip"), fields.get("state")
    if zip_code and state:
        # The offline list lacks some PO-box and single-company ZIP codes: an
        # unknown one is not an error.
        where = zip_state(zip_code)
        if where is not None and where != state:
            problems.append(
                ("state", f"state {state} does not match ZIP {zip_code[:5]} ({where}); fix one")
            )
    line1 = fields.get("address1") or ""
    if _UNDELIVERABLE.search(line1) or _UNDELIVERABLE.fullmatch(fields.get("city") or "x"):
        warnings.append(("address1", "does not look deliverable; check it before mailing"))
        return problems, warnings
    box = _PO_BOX.match(line1)
    if box:  # scourgify cannot parse a bare PO box; Pub 28 writes it "PO BOX 12"
        fields["address1"] = f"PO BOX {box.group(1).upper()}"
        fields["city"] = (fields.get("city") or "").upper() or None
        return problems, warnings
    from scourgify import normalize_address_record
    from scourgify.exceptions import AddressNormalizationError

    record = {
        "address_line_1": line1,
        "address_line_2": fields.get("address2") or None,
        "city": fields.get("city") or "",
        "state": state or "",
        "postal_code": zip_code or "",
    }
    try:
        out = normalize_address_record(record)
    except (AddressNormalizationError, ValueError, KeyError, TypeError):
        warnings.append(
            ("address1", "could not be read as a street address (USPS form); printed as given")
        )
        return problems, warnings
    fields["address1"] = out.get("address_line_1") or fields["address1"]
    fields["address2"] = out.get("address_line_2") or None
    fields["city"] = out.get("city") or fields.get("city")
    return problems, warnings
