"""Intelligent Mail barcodes for a mailing's letters (USPS-B-3200).

The tracking code is the clinic profile's barcode id (2 digits), service type
(3) and Mailer ID (6 or 9), then a serial number (9 or 6 digits): the base of
the batch's block of serials (store/serials.py: a counter per Mailer ID, so
serials are unique across mailings, as Full-Service IMb needs for 45 days)
plus the row's number in the recipient file. Never made from patient data.
The block is recorded in the manifest (each letter's tracking code), so
``--resume`` gives the same serials and the same letters. The routing code is
the row's ZIP (5) or ZIP+4 (9) after USPS normalisation. ReportLab's USPS
4-state encoder turns the two into 65 bars; the letter draws them from the
render context.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from handoutgen.content.models import Brand
from handoutgen.content.workspace import Workspace
from handoutgen.mailing.addresses import zip_state
from handoutgen.mailing.recipients import Recipient, RowProblem

_ROUTING = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
ROLLUP = "letters without a barcode"
log = logging.getLogger("handoutgen")


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


def serial_base(
    workspace: Workspace,
    brand: Brand,
    good: list[Recipient],
    earlier: dict[str, str] | None,
    keep: bool,
) -> int:
    """The base of this batch's serials (a letter's serial is base + its row).

    ``earlier``: a resumed batch's manifest (id -> tracking code): the block
    its letters were made with, so the rest get theirs from the same block.
    Otherwise a new block from the Mailer ID's counter (``keep=False``, a dry
    run: only looked at)."""
    from handoutgen.store.serials import take

    mid = brand.mailer_id or ""
    prefix = f"{brand.barcode_id}{brand.service_type}{mid}"
    for rec in good:
        code = (earlier or {}).get(rec.id, "")
        if len(code) == 20 and code.startswith(prefix) and code.isdigit():
            return int(code[len(prefix) :]) - rec.row
    limit = 10 ** (15 - len(mid))
    size = min(limit, max((r.row for r in good), default=0) + 1)
    block = take(workspace, mid, size, limit, keep=keep)
    if block.wrapped and keep:
        log.warning(
            "the serial numbers of Mailer ID %s ran out (%d) and start again at 0 with this "
            "mailing: its barcodes repeat those of the first mailings; the USPS needs them "
            "unique for 45 days, so check none of those is that recent",
            mid,
            limit - 1,
        )
    return block.base


def assign_barcodes(
    brand: Brand, good: list[Recipient], source: str, records: dict[int, str], base: int = 0
) -> list[RowProblem]:
    """Give each row a barcode (``fields["imb"]``, serial ``base`` + its row,
    the tracking code in ``fields["imb_tracking"]``); warnings for the rows
    that get none."""
    warnings: list[RowProblem] = []
    limit = 10 ** (15 - len(brand.mailer_id or ""))
    for rec in good:
        routing = routing_code(rec.fields.get("zip"))
        serial = base + rec.row
        if routing is None:
            message = "no barcode: the ZIP code is not in the USPS ZIP list; check it"
        elif serial >= limit:
            message = f"no barcode: serial numbers past {limit - 1} do not fit the Mailer ID"
        else:
            tracking = tracking_code(brand, serial)
            rec.fields["imb"] = bars(tracking, routing)
            rec.fields["imb_tracking"] = tracking
            continue
        warnings.append(
            RowProblem(source, rec.row, "zip", message, records.get(rec.row, ""), ROLLUP)
        )
    return warnings


def earlier_tracking(out_dir: Path) -> dict[str, str]:
    """id -> tracking code, from the manifest an earlier run left in ``out_dir``."""
    from handoutgen.mailing.manifest import MANIFEST, read_tracking

    return read_tracking(out_dir / MANIFEST)
