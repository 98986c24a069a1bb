"""Made-up readers: what shared pages are rendered from, so they hold no patient data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from handoutgen.content.models import PERSONAL_FIELDS, RenderRequest

# Two made-up people who differ in every field: in length, first letter, case,
# digits, month and day. An edition is rendered from the first; the second must
# give the same shared HTML, or the template prints personal data outside its
# marked parts. Stand-ins replace only the fields the real request has, so the
# template takes the same branches.
PERSONAS: tuple[dict[str, Any], dict[str, Any]] = (
    {
        "patient": "Avery Standin",
        "first_name": "Avery",
        "last_name": "Standin",
        "address1": "1 Placeholder Road",
        "address2": "Unit 2",
        "city": "Sampleton",
        "state": "ZZ",
        "zip": "00001",
        "note": "A stand-in note.",
        "clinician": "Dr. Avery Example",
        "visit_date": dt.date(2001, 2, 3),
        "letter_date": dt.date(2001, 2, 4),
        "imb": "T" * 65,
    },
    {
        "patient": "Moe Q. Placeholder-Wright",
        "first_name": "Moe",
        "last_name": "Placeholder-Wright",
        "address1": "98765 Other Avenue North",
        "address2": "Floor 11, Suite 1200",
        "city": "Elsewhere Falls",
        "state": "QQ",
        "zip": "99999-8888",
        "note": "Another made-up note,\nwith a second paragraph.",
        "clinician": "Jo Other, NP",
        "visit_date": dt.date(2019, 11, 28),
        "letter_date": dt.date(2019, 12, 30),
        "imb": "ADF" * 21 + "FA",
    },
)


def stand_in(request: RenderRequest, persona: int = 0) -> RenderRequest:
    """The request with every personal field it has replaced by a stand-in."""
    values = PERSONAS[persona]
    update = {f: (values[f] if getattr(request, f) else None) for f in PERSONAL_FIELDS}
    return request.model_copy(update=update)
