"""Sources a reader can look up: what a citation must hold, and its few fixed
phrases put in the page's language.

A citation names its author or publisher, its title and year, and a link or
identifier (a web address, a DOI or a PubMed id)::

    Chou R, et al. Epidural corticosteroid injections ... Annals of Internal
    Medicine, 2015. doi:10.7326/M15-0934
    BalancedBack. Spinal fusion alternatives you need to consider. Undated web
    page, viewed 2026. https://www.balancedback.com/blog/...

A web page with no date of its own says so: "Undated web page, viewed YEAR".
Those phrases are the only words of a citation that are not its title or
publisher, so they are translated (:func:`localized`); titles stay as published.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from handoutgen.content.i18n import noop as N_

YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
LINK = re.compile(r"https?://\S+|\bdoi:\s*10\.\d{4,}/\S+|\bPMID:?\s*\d{5,}", re.I)
# A working name for source material ("seed 003") is no citation a reader can find.
PLACEHOLDER = re.compile(r"\bseeds?\b|\bTODO\b|\bTBD\b", re.I)
WORD = re.compile(r"[^\W\d_]{2,}")

# The fixed phrases a citation may use, by pattern (the year is kept).
PHRASES: dict[re.Pattern[str], str] = {
    re.compile(r"\bUndated web page, viewed (?P<year>\d{4})"): N_(
        "Undated web page, viewed %(year)s"
    ),
    re.compile(r"\bWeb page, viewed (?P<year>\d{4})"): N_("Web page, viewed %(year)s"),
    re.compile(r"\bPatient leaflet, (?P<year>\d{4})"): N_("Patient leaflet, %(year)s"),
}


def problems(source: str) -> list[str]:
    """What keeps a reader from looking this source up, in plain words (none: fine)."""
    out = []
    if m := PLACEHOLDER.search(source):
        out.append(
            f"it says '{m.group()}', a working name, not a citation: name the author or "
            "publisher, title, year and link"
        )
    if not YEAR.search(source):
        out.append(
            "it has no year: add the year it was published (or, for an undated web page, "
            "'Undated web page, viewed YEAR')"
        )
    if not LINK.search(source):
        out.append("it has no link or identifier: add its web address, DOI (doi:10...) or PMID")
    title = LINK.sub(" ", source)
    if len(WORD.findall(title)) < 3:
        out.append("it has no title: add the author or publisher and the title")
    return out


def localized(source: str, gettext: Callable[..., str]) -> str:
    """The citation with its fixed phrases in the page's language (``gettext``)."""
    for pattern, msgid in PHRASES.items():

        def phrase(m: re.Match[str], msgid: str = msgid) -> str:
            return gettext(msgid, year=m["year"])

        source = pattern.sub(phrase, source)
    return source
