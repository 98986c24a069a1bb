"""Intelligent Mail barcodes for a mailing's letters (USPS-B-3200).

The tracking code is the clinic profile's barcode id (2 digits), service type
(3) and Mailer ID (6 or 9), then a serial number (9 or 6 digits) that is the
row's number in the recipient file: unique within the mailing, the same on
every run (and on --resume), and never made from patient data. The routing
code is the row's ZIP (5) or ZIP+4 (9) after USPS normalisation. ReportLab's
USPS 4-state encoder turns the two into 65 bars; the letter draws them from
the render context.
"""

from __future__ import annotations

import re

from handoutgen.content.models import Brand
from handoutgen.mailing.addresses import zip_state
from handoutgen.mailing.recipients import Recipient, RowProblem

_ROUTING = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
ROLLUP = "letters without a barcode"


def tracking_code(brand: Brand, serial: int) -> str:
    """The 20-digit tracking code of one letter (``brand.mailer_id`` is set)."""
    mid = brand.mailer_id or ""
    width = 15 - len(mid)  # the Mailer ID and the serial number share 15 digits
    return f"{brand.barcode_id}{brand.service_type}{mid}{serial:0{width}d}"


def routing_code(zip_code: str | None) -> str | None:
    """The routing code of a ZIP ("62701" or "62701-1234"); None if the ZIP is
    not one the offline ZIP data knows (a barcode would misroute the letter)."""
    found = _ROUTING.match(zip_code or "")
    if found is None or zip_state(found.group(1)) is None:
        return None
    return found.group(1) + (found.group(2) or "")


def bars(tracking: str, routing: str) -> str:
    """The 65 bars, as USPS-B-3200 names them: A(scender), D(escender), F(ull), T(racker)."""
    from reportlab.graphics.barcode.usps4s import USPS_4State

    return str(USPS_4State(tracking, routing).barcodes)


def assign_barcodes(
    brand: Brand, good: list[Recipient], source: str, records: dict[int, str]
) -> list[RowProblem]:
    """Give each row a barcode (``fields["imb"]``); warnings for the rows that get none."""
    warnings: list[RowProblem] = []
    limit = 10 ** (15 - len(brand.mailer_id or ""))
    for rec in good:
        routing = routing_code(rec.fields.get("zip"))
        if routing is None:
            message = "no barcode: the ZIP code is not in the USPS ZIP list; check it"
        elif rec.row >= limit:
            message = f"no barcode: row numbers past {limit - 1} do not fit its serial number"
        else:
            rec.fields["imb"] = bars(tracking_code(brand, rec.row), routing)
            continue
        warnings.append(
            RowProblem(source, rec.row, "zip", message, records.get(rec.row, ""), ROLLUP)
        )
    return warnings
