"""Clinic phone numbers: read as North American (NANP) numbers, and told apart
from the made-up and placeholder numbers that must never reach a patient.

A clinic profile's ``phone:`` must read as a ten-digit number (validate);
:func:`not_real` says why a number that reads fine still cannot be anyone's
line (``check``): the 555-0100..0199 range kept for fiction, 555-5555,
one digit repeated, 123-456-7890, an area code like 000 or 911.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (area) exchange-line, with an optional +1 or 1 in front and an extension
# after: "(217) 555-0123", "217-555-0123", "217.555.0123", "+1 217 555 0123 ext. 4".
_NUMBER = r"(?:\+?1[\s.-]?)?\(?(?P<area>\d{3})\)?[\s.-]?(?P<exchange>\d{3})[\s.-]?(?P<line>\d{4})"
_EXTENSION = r"(?:\s*(?:,|;)?\s*(?:ext\.?|extension|x)\s*(?P<ext>\d{1,6}))?"
_WHOLE = re.compile(rf"^\s*{_NUMBER}{_EXTENSION}\s*$", re.I)
# A number anywhere in running text (a document's own words).
IN_TEXT = re.compile(rf"(?<![\d\w]){_NUMBER}(?!\d)")

FORMAT_HINT = "a 10-digit number with its area code, written like (AAA) BBB-CCCC"


@dataclass(frozen=True)
class Phone:
    area: str
    exchange: str
    line: str
    extension: str = ""

    @property
    def digits(self) -> str:
        return self.area + self.exchange + self.line

    def __str__(self) -> str:
        ext = f" ext. {self.extension}" if self.extension else ""
        return f"({self.area}) {self.exchange}-{self.line}{ext}"


def parse(text: str) -> Phone | None:
    """The number ``text`` holds, written any common way; None if it is not one."""
    m = _WHOLE.match(text)
    if m is None:
        return None
    return Phone(m["area"], m["exchange"], m["line"], m["ext"] or "")


def in_text(text: str) -> list[Phone]:
    """Every ten-digit number written in running text."""
    return [Phone(m["area"], m["exchange"], m["line"]) for m in IN_TEXT.finditer(text)]


def _runs(digits: str) -> bool:
    """1234567890, 9876543210 and the like: each digit one more (or less) than the last."""
    steps = {(int(b) - int(a)) % 10 for a, b in zip(digits, digits[1:], strict=False)}
    return steps in ({1}, {9})


def not_real(phone: Phone) -> str | None:
    """Why no patient could reach anyone at ``phone`` (None if it could be a real line)."""
    area, exchange, line = phone.area, phone.exchange, phone.line
    if len(set(phone.digits)) == 1:
        return "every digit is the same, a placeholder"
    if _runs(phone.digits):
        return "its digits run in order, a placeholder"
    if area[0] in "01":
        return f"no area code starts with {area[0]} ({area})"
    if area[1:] == "11":
        return f"{area} is a service code like 911, not an area code"
    if area == "555":
        return "555 is not an area code in use; it marks made-up numbers"
    if exchange[0] in "01":
        return f"no local number starts with {exchange[0]} ({exchange})"
    if exchange[1:] == "11":
        return f"{exchange} is a service code like 411, not a local exchange"
    if exchange == "555":
        if line.startswith("01"):
            return "555-0100 to 555-0199 are kept for fiction and samples, never a real line"
        if line == "1212":
            return "555-1212 is directory help, not a clinic"
        return "555 numbers are not given to phone lines; it marks made-up numbers"
    if len(set(exchange + line)) == 1:
        return f"{exchange}-{line} is a placeholder"
    return None
