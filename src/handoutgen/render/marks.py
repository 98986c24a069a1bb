"""What templates mark as personal, and the conventions editions rely on.

A template marks whole pages (``vdp.personal_pages``: the letter) and small
boxes in the shared flow (``vdp.slot``: "Prepared for", the clinic, the note)
as personal. In a full render the marks only wrap; in a split render they
record the personal parts and leave same-size placeholders (see editions/).

The names below are the contract between templates, stylesheets and editions/,
kept in one place; ``tests/test_editions.py`` checks the shipped stylesheets
against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

# Slots whose text the running header repeats (by `string-set` in the stylesheet).
HEAD_SLOTS = ("prepared-for",)
# Page-margin boxes that carry per-recipient text: the running name (a string
# set from a HEAD_SLOTS slot) and "Page X of Y". An edition leaves them empty;
# each recipient's overlay draws only them.
PERSONAL_MARGIN_BOXES = {"top-left": "running name", "bottom-right": "page number"}
# The PDF author (the clinic) in an edition, replaced per recipient on assembly.
AUTHOR_PLACEHOLDER = "handoutgen-personal-author"
# Marks a stylesheet repeats on every page with `position: fixed`: an edition
# draws them on its pages, so the overlays stamped there leave them out.
PAGE_MARKS = ("translation-mark", "approval-mark", "watermark")
# Page references on personal pages: (the element a template writes, the id it
# names). A full render numbers them with target-counter; an edition records
# the page of each id and the personal layer writes the number in.
PAGE_REFS = {'<span class="signs-page"></span>': "when-to-get-help"}
PAGE_REF_HTML = '<span class="signs-page-number">{}</span>'
# Attributes on the elements of a personal layer.
SLOT_ATTR = "data-vdp-slot"
RECIPIENT_ATTR = "data-vdp-r"
OVERLAY_PAGE_ATTR = "data-vdp-p"


def _margin_rule(selector: str, content: dict[str, str]) -> str:
    boxes = " ".join(f"@{box} {{ content: {content[box]}; }}" for box in PERSONAL_MARGIN_BOXES)
    return f"@page{selector} {{ {boxes} }}"


_BLANK = dict.fromkeys(PERSONAL_MARGIN_BOXES, "none")
_STRINGS = {"top-left": "string(vdp-head)", "bottom-right": "string(vdp-page)"}
# Shared text: drawn by the edition only (left-middle: a sample profile's mark).
_OTHER_BOXES = ("top-right", "bottom-left", "left-middle")

# Injected into the edition's stylesheet: no personal margin text.
EDITION_CSS = "\n" + _margin_rule("", _BLANK) + "\n" + _margin_rule(" :first", _BLANK) + "\n"
# Injected into the personal layer's stylesheet: only personal text, positioned
# where the edition's placeholders are.
PERSONAL_CSS = f"""
html {{ background: none; }}
@page {{ background: var(--background); }}
@page vdp-overlay {{ background: none; }}
{_margin_rule("", _STRINGS)}
{_margin_rule(" :first", _STRINGS)}
@page vdp-overlay {{ {" ".join(f"@{b} {{ content: none; }}" for b in _OTHER_BOXES)} }}
.vdp-strings {{ string-set: vdp-head attr(data-head), vdp-page attr(data-page); height: 0; margin: 0; }}
.vdp-recipient + .vdp-recipient {{ break-before: page; }}
.vdp-overlay {{ page: vdp-overlay; break-before: page; }}
.vdp-recipient > .vdp-overlay:first-child {{ break-before: auto; }}
.vdp-slot {{ position: absolute; margin: 0; }}
"""


@dataclass
class Slot:
    name: str
    line: bool
    content: Markup


class Marks:
    """The ``vdp`` object templates see. In a full render it only wraps; in a
    split render it records the personal parts and leaves placeholders."""

    # All a (sandboxed) template may touch: not whether it is being split.
    template_api = ("slot", "personal_pages", "author")

    def __init__(self, splitting: bool = False) -> None:
        self.splitting = splitting
        self.slots: list[Slot] = []
        self.personal: list[Markup] = []
        self.draft = False
        self.author_value: str | None = None

    def author(self, value: str | None) -> str:
        """The PDF's author (the clinic) as personal metadata: an edition holds a
        fixed placeholder, which assembly replaces with the recipient's value."""
        if not self.splitting:
            return value or ""
        self.author_value = value
        return AUTHOR_PLACEHOLDER

    def slot(self, name: str, line: bool = True, caller: Any = None) -> Markup:
        content = Markup(caller() if caller else "").strip()
        if not self.splitting or not content:
            return Markup('<div class="{}">{}</div>').format(name, content)
        index = len(self.slots)
        self.slots.append(Slot(name, line, content))
        # A line slot keeps one line of height; a block slot keeps its min-height.
        filler = Markup("&nbsp;") if line else Markup("")
        return Markup('<div class="{}" {}="{}">{}</div>').format(
            name, Markup(SLOT_ATTR), index, filler
        )

    def personal_pages(self, caller: Any = None) -> Markup:
        content = Markup(caller() if caller else "").strip()
        if not self.splitting:
            return content
        self.personal.append(content)
        return Markup("")

    @property
    def shape(self) -> tuple:
        """What an edition depends on: the slots' names, the personal page count, draft."""
        return (tuple(slot.name for slot in self.slots), len(self.personal), self.draft)

    @property
    def head_text(self) -> str:
        """The running header's text for this recipient."""
        for s in self.slots:
            if s.name in HEAD_SLOTS:
                return s.content.striptags()
        return ""
