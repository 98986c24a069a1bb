"""What editions are made of: a split request, an edition, a recipient's outcome,
and why a recipient was rendered in full."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from handoutgen.content.models import RenderRequest
from handoutgen.core.errors import HandoutgenError
from handoutgen.render.marks import (
    EDITION_CSS,
    Marks,
)

if TYPE_CHECKING:
    from handoutgen.render.context import Plan

log = logging.getLogger("handoutgen")


FORMAT = 4  # bump when the cached edition layout changes meaning


class Mode(str, Enum):
    """How a recipient's PDF was made."""

    EDITION = "edition"
    FULL = "full"


class Fallback(Enum):
    """Why a recipient was rendered in full instead of from an edition.

    The value is the text shown to users (summary lines, the manifest's
    ``render`` column); ``{detail}`` is filled in from the outcome."""

    INELIGIBLE = "{detail}"  # not a PDF, a brochure, print-ready... (detail says which)
    DRAFT = "draft"
    TEMPLATE = "template has no <main> or <style>"
    PERSONAL_IN_SHARED = "{detail}"
    NOT_CACHED = "edition not cached"
    BOX_SPLIT = "a personal box breaks across pages"
    UNVERIFIED = "the edition could not be checked against a full render"
    SELF_CHECK = "self-check: the assembled pages differ from a full render"
    NO_PLACE = "the edition has no place for a personal box"
    SLOT_TOO_LONG = "the {detail} text is too long for its box"
    SLOT_FONT = "the {detail} text uses a fallback font, which changes the size of its box"
    PAGE_OVERFLOW = "a personal page overflowed"
    OVERLAY_MISMATCH = "the overlay pages do not match the edition"
    ASSEMBLY = "assembly failed ({detail})"

    @property
    def missed(self) -> bool:
        """Whether warming the cache would have avoided it (the web app then builds it)."""
        return self is Fallback.NOT_CACHED

    def text(self, detail: str = "") -> str:
        return self.value.format(detail=detail)


@dataclass
class Split:
    request: RenderRequest  # the real request: only its marks are used for stamping
    base_html: str  # the edition's document, placeholders in, before the edition CSS
    marks: Marks  # the real request's personal parts
    draft: bool = False  # the content gate's verdict for this request
    shared_request: RenderRequest | None = None  # the stand-in request the edition is built from
    key: str = ""
    fallback: Fallback | None = None  # why this recipient needs a full render
    detail: str = ""
    plan: Plan | None = None  # the request resolved (render/context.py), for its stand-ins

    @property
    def edition_html(self) -> str:
        return inject_css(self.base_html, EDITION_CSS)


def inject_css(html: str, css: str) -> str:
    return html.replace("</style>", css + "</style>", 1)


@dataclass
class Edition:
    key: str
    pdf: bytes
    pages: int
    # slot index -> [page, x, y, width, height] of the placeholder's border box,
    # in CSS px from the top left of the page area
    slots: dict[int, list[float]]
    # Checked against a full render (the self-check found the same words on
    # every page, in reading order). An edition that was not is never used.
    verified: bool = False
    fallback: Fallback | None = None  # why it cannot be used, if it cannot
    # id -> page index of the ids a letter refers to (marks.PAGE_REFS)
    anchors: dict[str, int] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.verified and self.fallback is None

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "key": self.key,
            "pages": self.pages,
            "slots": {str(k): v for k, v in self.slots.items()},
            "verified": self.verified,
            "anchors": self.anchors,
            "fallback": self.fallback.name if self.fallback else None,
            "sha256": hashlib.sha256(self.pdf).hexdigest(),
        }


@dataclass
class Outcome:
    pdf: bytes | None = None
    mode: Mode = Mode.FULL
    fallback: Fallback | None = None  # why a full render was needed
    detail: str = ""
    error: HandoutgenError | None = None
    pages: int = 0

    @property
    def reason(self) -> str:
        """Why a full render was needed, in words ("" if it was not)."""
        return self.fallback.text(self.detail) if self.fallback else ""

    def fall_back(self, fallback: Fallback, detail: str = "") -> None:
        if self.fallback is None:  # the first cause found is the one reported
            self.fallback, self.detail = fallback, detail
