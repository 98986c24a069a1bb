"""Rules for the warning signs (content-standards.md, Safety): each document's
region has the signs the standards name, by id, under the right route, printed
on the page and written in every language the document is offered in.

The required signs live here, in code, not in handouts/warning-signs.yaml: a
file that defined its own requirements could drop a sign and its rule together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from handoutgen.content.i18n import base
from handoutgen.content.library import Library, add_months
from handoutgen.content.models import ROUTES, Document, Region, Route
from handoutgen.content.signs import SIGNS_FILE
from handoutgen.content.translations import TRANSLATIONS
from handoutgen.content.yamlfile import YamlFile, load_yaml
from handoutgen.quality.finding import EN, Finding, Recorder

RULE = "warning-signs"

# The signs each region's "When to get help" block must have, by route.
REQUIRED: dict[Region, dict[Route, tuple[str, ...]]] = {
    "lower-back": {
        # Cauda equina syndrome.
        "emergency": ("bladder-bowel", "saddle-numbness", "leg-weakness"),
        "soon": ("fever", "cancer", "injury", "numbness-weakness"),
    },
    "neck": {
        # Spinal cord compression (myelopathy), and the airway after surgery
        # from the front of the neck.
        "emergency": ("arm-weakness", "walking-balance", "bladder-bowel", "front-of-neck"),
        "soon": ("fever", "cancer", "injury", "numbness-weakness"),
    },
}
ROUTE_WORDS: dict[Route, str] = {
    "emergency": "call 911 or go to the emergency department now",
    "soon": "call the clinic soon",
}
# Words of the lower back that never belong in a neck document.
NECK_WORDS = re.compile(r"\bneck\b|\bcervical\b", re.I)
LOW_BACK_WORDS = re.compile(
    r"\bback pain\b|\blow(?:er)? back\b|\bgroin\b|\bbuttocks?\b|\binner thighs?\b", re.I
)


def required(region: Region) -> Iterator[tuple[Route, str]]:
    for route in ROUTES:
        for sign_id in REQUIRED[region][route]:
            yield route, sign_id


def _other(route: Route) -> Route:
    return "soon" if route == "emergency" else "emergency"


def region_findings(
    rec: Recorder,
    doc: Document,
    yf: YamlFile,
    printed: dict[str, list[str]] | None,
    text: str,
    ids: dict[str, Any],
) -> None:
    """The region's required signs in handouts/warning-signs.yaml under their
    routes and, when the page has the block (``printed``: sign ids by route),
    printed there; the file's review date; no lower-back words on a neck page."""
    library = rec.library
    signs, sf = library.signs, library.signs_file
    region = doc.region
    if signs is None or sf is None or region not in signs.regions:
        return  # the load names the missing file or region
    have = signs.regions[region]
    for route, sign_id in required(region):
        if sign_id in getattr(have, route):
            if printed is not None and sign_id not in printed[route]:
                rec.add(
                    yf,
                    ("template",),
                    "error",
                    RULE,
                    f"template {doc.template} does not print warning sign '{sign_id}' under "
                    f"{route} ({ROUTE_WORDS[route]}): print the signs with the get_help() "
                    "macro from macros.html",
                    **ids,
                )
            continue
        other = _other(route)
        if sign_id in getattr(have, other):
            rec.add(
                sf,
                ("regions", region, other, sign_id),
                "error",
                RULE,
                f"warning sign '{sign_id}' of region '{region}' is under {other}, but it needs "
                f"{route} ({ROUTE_WORDS[route]}): move it under regions: {region}: {route}:",
                key=True,
                **ids,
            )
        else:
            rec.add(
                sf,
                ("regions", region, route),
                "error",
                RULE,
                f"region '{region}' lacks warning sign '{sign_id}' under {route} "
                f"({ROUTE_WORDS[route]}), which the content standards require: add it there",
                key=True,
                **ids,
            )
    due = add_months(signs.reviewed, doc.review_interval_months)
    if due < rec.today:
        rec.add(
            sf,
            ("reviewed",),
            "error",
            "currency",
            f"the warning signs were reviewed {signs.reviewed.isoformat()}, more than "
            f"{doc.review_interval_months} months ago (review was due {due.isoformat()})",
        )
    about = " ".join(t[EN] for t in (doc.title, doc.subtitle, doc.main_message) if t)
    for brand in library.brands.values():  # "Riverside Back and Neck Center" is a name
        about = about.replace(brand.name, "")
    if region == "lower-back" and (m := NECK_WORDS.search(about)):
        rec.add(
            yf,
            ("region",),
            "error",
            "region",
            f"the document is about the neck ('{m.group()}' in its title or main message) "
            "but prints the lower back's warning signs: set region: neck",
            key=True,
            **ids,
        )
    if region == "neck" and (m := LOW_BACK_WORDS.search(text)):
        rec.add(
            yf,
            ("region",),
            "error",
            "region",
            f"'{m.group()}' is printed in a document about the neck: a neck document's "
            "words and warning signs are about the neck, not the lower back",
            key=True,
            **ids,
        )


def translation_findings(library: Library, documents: list[str] | None = None) -> list[Finding]:
    """Every required sign of a document's region has text in each language the
    document is offered in (it has a translation file of the document)."""
    signs = library.signs
    if signs is None:
        return []
    missing: dict[tuple[str, Region, Route, str], list[str]] = {}
    offered: dict[str, set[str]] = {}
    for lang, kind, item_id in library.translations.records:
        if kind == "document":
            offered.setdefault(item_id, set()).add(lang)
    for doc_id in documents or list(library.documents):
        doc = library.document(doc_id)
        have = signs.regions.get(doc.region)
        if have is None:
            continue
        for lang in sorted(offered.get(doc.id, ())):
            for route, sign_id in required(doc.region):
                text = getattr(have, route).get(sign_id)
                if text is not None and lang not in text and base(lang) not in text:
                    missing.setdefault((lang, doc.region, route, sign_id), []).append(doc.id)
    out: list[Finding] = []
    files: dict[str, YamlFile | None] = {}
    for (lang, region, route, sign_id), docs in sorted(missing.items()):
        path = library.workspace.handouts_dir / TRANSLATIONS / lang / SIGNS_FILE
        shown = library.workspace.display(path)
        if lang not in files:
            files[lang] = load_yaml(path, shown)[0] if path.is_file() else None
        yf = files[lang]
        if yf is not None and _text_at(yf.data, ("regions", region, route, sign_id)):
            continue  # written, but the file has other problems ([translation] says which)
        names = ", ".join(docs)
        offered_in = f"{names} {'is' if len(docs) == 1 else 'are'} offered in '{lang}'"
        line: int | None
        col: int | None
        if yf is None:
            line, col = 1, 1
            todo = f"{shown} does not exist: translate handouts/{SIGNS_FILE} there"
        else:
            line, col = yf.where(("regions", region, route), key=True)
            todo = f"add it under regions: {region}: {route}:"
        out.append(
            Finding(
                shown,
                line,
                col,
                "error",
                RULE,
                f"warning sign '{sign_id}' ({region}, {route}) has no '{lang}' text, and "
                f"{offered_in}: {todo}",
            )
        )
    return out


def _text_at(data: Any, loc: tuple[str, ...]) -> bool:
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return isinstance(data, str) and bool(data.strip())
