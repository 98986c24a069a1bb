"""Phone numbers: a clinic profile's numbers must be lines a patient can call,
and no document or option text may carry a made-up or placeholder number.

A profile marked ``sample: true`` (the shipped examples) may use the numbers
kept for fiction: its pages say "Sample clinic" next to them and on every page.
"""

from __future__ import annotations

import datetime as dt

from handoutgen.content import phones
from handoutgen.content.library import Library
from handoutgen.content.models import Brand
from handoutgen.content.yamlfile import Loc, YamlFile
from handoutgen.quality.finding import Finding, Recorder

PROFILE_NUMBERS = ("phone", "after_hours")


def profile_file(library: Library, brand_id: str) -> YamlFile | None:
    """The file of the clinic profile ``brand_id``."""
    return next(
        (
            f
            for f in library.files.values()
            if f.path.stem == brand_id and f.path.parent.name == "brands"
        ),
        None,
    )


class PhoneRules(Recorder):
    def profile(self, brand: Brand) -> None:
        """The profile's numbers: real lines, or a sample that says it is one."""
        yf = profile_file(self.library, brand.id)
        if yf is None:
            return
        for field in PROFILE_NUMBERS:
            value = getattr(brand, field)
            phone = phones.parse(value) if value else None
            if phone is None:
                continue  # none given, or refused by validate already
            why = phones.not_real(phone)
            if why and not brand.sample:
                self.add(
                    yf,
                    (field,),
                    "error",
                    "phone",
                    f"{field}: {value} is not a number a patient can call ({why}); put in "
                    "the clinic's own number. Made-up numbers belong only in a sample "
                    "profile (sample: true), whose pages say so",
                )
            elif brand.sample and not why:
                self.add(
                    yf,
                    ("sample",),
                    "warning",
                    "phone",
                    f"sample: true, yet {field}: {value} looks like a real number, and every "
                    "page says 'Sample clinic: not a real phone number'. If it is this "
                    "clinic's number, remove sample: true",
                    key=True,
                )

    def phone_numbers(self, yf: YamlFile, texts: list[tuple[Loc, str]], **ids: str | None) -> None:
        """Made-up or placeholder numbers typed into the text: a patient would call them."""
        for loc, text in texts:
            for phone in phones.in_text(text):
                why = phones.not_real(phone)
                if why is None:
                    continue
                self.add(
                    yf,
                    loc,
                    "error",
                    "phone",
                    f"{phone} is not a number a patient can call ({why}): remove it. "
                    "The clinic's numbers come from its profile (handouts/brands/<id>.yaml) "
                    "and print in \"When to get help\"; say 'call your clinic' here",
                    **ids,
                )


def profile_findings(library: Library, brand_id: str, today: dt.date) -> list[Finding]:
    """The findings about one clinic profile's numbers."""
    rules = PhoneRules(library, today)
    brand = library.brands.get(brand_id)
    if brand is not None:
        rules.profile(brand)
    return rules.findings
