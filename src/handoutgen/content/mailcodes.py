"""The clinic profile's Intelligent Mail barcode fields, checked as the USPS
defines them (USPS-B-3200, the tracking code's fields): digits only, in
quotes in YAML (bare digits lose their leading zeros)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field


def _quoted_digits(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            'write the digits in quotes, like "012345": YAML reads bare digits as a '
            "number and drops their leading zeros"
        )
    return value


def _digits(*lengths: int, what: str, second: str = "") -> AfterValidator:
    def check(value: str) -> str:
        if not (value.isascii() and value.isdigit() and len(value) in lengths):
            n = " or ".join(map(str, lengths))
            raise ValueError(f"{what} is {n} digits (0-9), in quotes; got {value[:20]!r}")
        if second and value[1] not in second:
            raise ValueError(f"the second digit of {what} is {second[0]}-{second[-1]}")
        return value

    return AfterValidator(check)


def _mailer_id(value: str) -> str:
    # USPS-B-3200: a 6-digit Mailer ID begins with 0-8, a 9-digit one with 9.
    if (len(value) == 9) != value.startswith("9"):
        raise ValueError(
            f"a Mailer ID of {len(value)} digits cannot begin with {value[0]}: 6-digit ones "
            "begin with 0-8, 9-digit ones with 9 (as the USPS assigned it)"
        )
    return value


MailerId = Annotated[
    str,
    BeforeValidator(_quoted_digits),
    _digits(6, 9, what="a Mailer ID"),
    AfterValidator(_mailer_id),
    Field(json_schema_extra={"pattern": r"^(\d{6}|\d{9})$"}),
]
ServiceType = Annotated[
    str,
    BeforeValidator(_quoted_digits),
    _digits(3, what="a Service Type ID"),
    Field(json_schema_extra={"pattern": r"^\d{3}$"}),
]
BarcodeId = Annotated[
    str,
    BeforeValidator(_quoted_digits),
    _digits(2, what="a barcode identifier", second="01234"),
    Field(json_schema_extra={"pattern": r"^\d[0-4]$"}),
]
