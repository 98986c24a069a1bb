"""The content schema. These models are the documentation of the YAML files.

Every patient-facing text field is a :data:`Text`: either a plain string
(English) or a mapping of language code to string, so translations can be
added beside the English without changing the schema::

    summary: Surgery that joins two or more bones of the spine.
    # or, once translated:
    summary:
      en: Surgery that joins two or more bones of the spine.
      es: Cirugía que une dos o más huesos de la columna.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from handoutgen.content.keypoints import KEY_POINTS, short_points
from handoutgen.content.localized import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from handoutgen.content.localized import LANG_RE as LANG_RE
from handoutgen.content.localized import Slug as Slug
from handoutgen.content.localized import Text as Text
from handoutgen.content.localized import _language_or_none, _Model
from handoutgen.content.localized import normalize_language as normalize_language
from handoutgen.content.localized import pick_text as pick_text
from handoutgen.content.mailcodes import BarcodeId, MailerId, ServiceType

ReportedBy = Literal["study", "manufacturer", "competitor", "clinic", "rival-clinic", "group"]
"""Who reported a claim: an independent study; the maker of this device; the maker of a
competing device; a clinic that offers this treatment; a clinic that sells a different
treatment; a professional group (named in the claim)."""

EvidenceTopic = Literal["results", "coverage", "safety"]


class Evidence(_Model):
    """One claim with its source. Numbers say who, out of how many, over what time."""

    id: Slug | None = Field(
        default=None,
        description="A name for this source, so an outcome can cite it (source: fairbank-2005).",
    )
    claim: Text
    source: str = Field(
        min_length=3,
        description="The study or publication a reader can look up: author or publisher, "
        "title, year, and a link, DOI or PMID.",
    )
    level: Text | None = Field(
        default=None, description='Plain words for its strength: "several randomized trials".'
    )
    reported_by: ReportedBy = Field(
        default="study",
        description="Who reported it. Required (written out) for any claim with a figure.",
    )
    topic: EvidenceTopic = Field(
        default="results",
        description="What it supports: results, insurance coverage or cost, or safety.",
    )


Certainty = Literal["low", "moderate", "high"]
"""How sure we are of a result, printed in plain words: low (small or flawed trials; new
research may well change it), moderate (new research might change it), high (new research
is unlikely to change it)."""


class Outcome(_Model):
    """A benefit or harm as "N out of 100 people", over a stated time, for the people a
    trial or review studied: printed as a sentence, and as 100 drawn people if asked.
    The figure comes from the source's published abstract, never from a seller."""

    what: Text = Field(
        description='What happened, after "About N out of 100 people": "had less pain". '
        "No numbers here: N goes in with_option."
    )
    with_option: int = Field(
        ge=0, le=100, description="How many out of 100 people who had this option."
    )
    comparison: Text | None = Field(
        default=None,
        description='Who they are compared with, after "compared with about M out of 100": '
        '"with an exercise and therapy program". Needs without.',
    )
    without: int | None = Field(
        default=None, ge=0, le=100, description="How many out of 100 in the comparison group."
    )
    time: Text = Field(description='Over what time: "after 2 years", "within 9 years".')
    who: Text = Field(
        description='Who was studied: "173 adults with low back pain for at least a year".'
    )
    certainty: Certainty = Field(
        description="How sure we are: low, moderate or high (printed in plain words)."
    )
    source: Slug = Field(
        description="The id of the evidence item of this option that gives the figure "
        "(journal, year, and a DOI or PubMed id in its source)."
    )
    icon_array: bool = Field(
        default=False, description="Also draw it as 100 people, N of them filled in."
    )

    @model_validator(mode="after")
    def comparison_pairs(self) -> Self:
        if (self.comparison is None) != (self.without is None):
            raise ValueError(
                "comparison and without go together: name the other group and give its "
                "number out of 100, or leave both out"
            )
        return self


Region = Literal["lower-back", "neck"]
"""The body region a document is about: it picks the document's warning signs."""

Route = Literal["emergency", "soon"]
"""How fast to act on a warning sign: call 911 or go to the emergency department
now; or call the clinic soon."""

ROUTES: tuple[Route, ...] = ("emergency", "soon")

SignTexts = Annotated[
    dict[Slug, Text],
    Field(description="Sign id -> what the reader notices, in plain words."),
]


def _check_routes(signs: dict[str, dict]) -> None:
    both = sorted(set(signs.get("emergency", {})) & set(signs.get("soon", {})))
    if both:
        raise ValueError(
            f"sign '{both[0]}' is listed under both emergency and soon; a sign has one route"
        )


class SignSource(_Model):
    """A source that supports only some signs of its set (printed only with them)."""

    source: str = Field(min_length=3, description="The publication, named.")
    signs: list[Slug] = Field(min_length=1, description="The ids of the signs it supports.")


class SignSet(_Model):
    """Warning signs by route, each under an id that `check` and translations use."""

    emergency: SignTexts = Field(
        min_length=1, description="Signs that need 911 or the emergency department now."
    )
    soon: SignTexts = Field(min_length=1, description="Signs to call the clinic about soon.")
    sources: list[Annotated[str, StringConstraints(min_length=3)] | SignSource] = Field(
        min_length=1,
        description="The public sources the signs were taken from, named; a source with "
        "signs: supports only those.",
    )

    @model_validator(mode="after")
    def one_route_each(self) -> Self:
        _check_routes({"emergency": self.emergency, "soon": self.soon})
        known = set(self.emergency) | set(self.soon)
        for source in self.sources:
            for sign_id in getattr(source, "signs", []):
                if sign_id not in known:
                    raise ValueError(f"source names sign '{sign_id}', which this set lacks")
        return self

    def sources_for(self, sign_ids: set[str]) -> list[str]:
        """The sources behind any of ``sign_ids``, in order."""
        return [
            s if isinstance(s, str) else s.source
            for s in self.sources
            if isinstance(s, str) or sign_ids & set(s.signs)
        ]


class WarningSigns(_Model):
    """``handouts/warning-signs.yaml``: the "When to get help" signs of each body
    region, and the signs to watch for after a procedure (options pick them by id).
    ``handoutgen check`` requires the signs of the content standards, by id and route."""

    reviewed: dt.date
    regions: dict[Region, SignSet] = Field(
        min_length=1, description="Region -> its warning signs (lower-back, neck)."
    )
    after: SignSet = Field(
        description="Signs to watch for after a procedure; an option lists the ids it needs "
        "under watch_after: signs."
    )


class WatchAfter(_Model):
    """What to watch for after this option's procedure, printed with the option."""

    signs: list[Slug] = Field(
        default_factory=list,
        description="Ids of signs under after: in handouts/warning-signs.yaml.",
    )
    emergency: SignTexts = Field(
        default_factory=dict, description="This option's own signs that need 911 now."
    )
    soon: SignTexts = Field(
        default_factory=dict, description="This option's own signs to call the clinic about."
    )

    @model_validator(mode="after")
    def one_route_each(self) -> Self:
        _check_routes({"emergency": self.emergency, "soon": self.soon})
        return self


class Term(_Model):
    """A medical word defined for the reader ("Words to know")."""

    term: Text = Field(description="The word, as the text uses it (translated like any text).")
    meaning: Text


OptionCategory = Literal["surgery", "procedure", "non-surgical"]


class Option(_Model):
    """One treatment option: ``handouts/options/<id>.yaml``."""

    id: Slug
    title: Text
    category: OptionCategory
    summary: Text
    how_it_works: Text
    suits: Text
    not_for: Text
    benefits: list[Text] = Field(min_length=1)
    risks: list[Text] = Field(min_length=1)
    recovery: Text
    facts: dict[Slug, Text] = Field(
        default_factory=dict, description="Comparison factor id -> short answer."
    )
    evidence: list[Evidence] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(
        default_factory=list,
        description='Benefits and harms as "N out of 100 people" from trials or reviews, '
        "each citing an evidence item by id. Leave it empty where no trial gives a number.",
    )
    serious_risks: list[int] = Field(
        default_factory=list,
        description="Which risks: are serious (0 is the first): a brochure card that "
        "has room for only some risks always prints these.",
    )
    warnings: list[Text] = Field(
        default_factory=list,
        description="This option's own safety warnings (blood thinners, blood sugar...).",
    )
    watch_after: WatchAfter | None = Field(
        default=None, description="Warning signs to watch for after the procedure."
    )
    terms: list[Term] = Field(
        default_factory=list,
        description='Medical words this option uses: "Words to know" lists them when it is chosen.',
    )
    sources: list[Annotated[str, StringConstraints(min_length=3)]] = Field(
        default_factory=list,
        description="The public sources behind this option's warnings, recovery and "
        "after-care signs (author or publisher, title, year, and a link, DOI or PMID); "
        "printed with the document's sources.",
    )
    reviewed: dt.date
    disclaimer: Text | None = None

    @model_validator(mode="after")
    def serious_risks_exist(self) -> Self:
        for i in self.serious_risks:
            if not 0 <= i < len(self.risks):
                raise ValueError(
                    f"serious_risks names risk {i}, but risks: has {len(self.risks)} "
                    f"(0 to {len(self.risks) - 1})"
                )
        return self

    def risks_within(self, limit: int | None) -> list[dict[str, str]]:
        """The risks a card with room for ``limit`` prints: every serious one, then
        the others in order while there is room, in the order of risks:."""
        if limit is None:
            return list(self.risks)
        room = max(limit - len(self.serious_risks), 0)
        others = [i for i in range(len(self.risks)) if i not in self.serious_risks][:room]
        keep = set(self.serious_risks) | set(others)
        return [r for i, r in enumerate(self.risks) if i in keep]


class SeeAlso(_Model):
    """Another shipped document that covers other options."""

    document: Slug
    note: Text = Field(description="What the reader finds there.")


class Factor(_Model):
    """A comparison row, phrased as the question a patient asks."""

    id: Slug
    question: Text
    value: Text | None = Field(
        default=None,
        description='What matters, for the values exercise: "Keeping my spine moving".',
    )


class Image(_Model):
    """A picture: every image needs alt text; a caption where it informs."""

    src: str = Field(pattern=r"^[A-Za-z0-9_./-]+\.(svg|png|jpe?g)$")
    alt: Text
    caption: Text | None = None


class ReadingLevel(_Model):
    """Reading-level limits for patient-facing text: Flesch-Kincaid grade, SMOG grade
    (which reads about 3 grades higher on patient materials) and sentence length."""

    warn: float = Field(default=8, ge=1, le=20)
    error: float = Field(default=10, ge=1, le=20)
    smog_warn: float = Field(default=9, ge=1, le=25)
    smog_error: float = Field(default=11, ge=1, le=25)
    max_sentence_words: int = Field(default=25, ge=5, le=100)


class FAQ(_Model):
    question: Text
    answer: Text


class Letter(_Model):
    """The cover letter of a mailing (documents of kind ``letter``)."""

    sender: list[str] = Field(
        default_factory=list,
        description="Return address lines for a letter printed with no clinic profile; "
        "with one, the envelope's top window shows the profile's name and address.",
    )
    opening: Text = Field(description="The first paragraph, after the greeting.")
    closing: Text = Field(default={"en": "With best wishes,"})
    signature: str | None = Field(
        default=None, description="Who signs; default: the recipient's clinician."
    )


HexColor = Annotated[str, StringConstraints(pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]


class BrandColors(_Model):
    primary: HexColor = Field(description="Headings, rules and the cover band.")
    text: HexColor = "#1b1b1b"
    background: HexColor = "#ffffff"
    on_primary: HexColor = Field(default="#ffffff", description="Text on the primary color.")
    tint: HexColor = Field(default="#eef5f7", description="Light fills behind text.")


def _phone_number(value: str | None) -> str | None:
    from handoutgen.content.phones import FORMAT_HINT, parse

    if value is not None and parse(value) is None:
        raise ValueError(f"must be {FORMAT_HINT}; got {value!r}")
    return value


# What editors check as one types (JSON Schema has no named groups or flags);
# content/phones.py reads the number.
_PHONE_SCHEMA_PATTERN = (
    r"^\s*(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}"
    r"(?:\s*[,;]?\s*(?:[Ee][Xx][Tt]\.?|[Ee]xtension|[Xx])\s*\d{1,6})?\s*$"
)
PhoneNumber = Annotated[
    str,
    Field(max_length=40, json_schema_extra={"pattern": _PHONE_SCHEMA_PATTERN}),
    AfterValidator(_phone_number),
]


# A clinic logo: what designers hand over (a JPG, a PDF, "Clinic Logo.png").
LOGO_PATTERN = r"^[A-Za-z0-9_./-]+( [A-Za-z0-9_./-]+)*\.(svg|png|jpe?g|pdf|SVG|PNG|JPE?G|PDF)$"


class Brand(_Model):
    """A clinic profile: the clinic's name, phone numbers, address and look,
    ``handouts/brands/<id>.yaml``. ``--clinic`` (or a document's ``brand:``)
    chooses one; every phone number a page prints comes from it."""

    id: Slug
    name: str = Field(min_length=1, max_length=120)
    phone: PhoneNumber = Field(
        description='The number patients call, printed in "When to get help" and the '
        "contact lines: (AAA) BBB-CCCC."
    )
    after_hours: PhoneNumber | None = Field(
        default=None, description="The number to call when the clinic is closed, if another."
    )
    sample: bool = Field(
        default=False,
        description="A made-up clinic for trying handoutgen: its numbers may be fictional "
        "(555-01xx), and every page it prints says it is a sample. Never set it for a real clinic.",
    )
    logo: str | None = Field(
        default=None,
        pattern=LOGO_PATTERN,
        description="An SVG, PNG, JPG or one-page PDF file, relative to the workspace "
        "(single spaces in its name are fine).",
    )
    colors: BrandColors
    font_family: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9 -]{1,60}$",
        description="A font family to try before the packaged one.",
    )
    address: list[str] = Field(default_factory=list)
    website: str | None = Field(default=None, pattern=r"^https?://[^\s/$.?#][^\s]*$")
    funding: Text | None = Field(
        default=None,
        description="Who paid for the material, printed after the document's producer: "
        '"Paid for by ...". Translated like any text.',
    )
    qr: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/$.?#][^\s]*$",
        description="A URL printed as a QR code on brochures; wins over the document's qr.",
    )
    # The Intelligent Mail barcode's fields (USPS-B-3200, "Intelligent Mail
    # Barcode 4-State Specification", table of the tracking code's fields).
    mailer_id: MailerId | None = Field(
        default=None,
        description="The clinic's USPS Mailer ID: 6 digits (first 0-8) or 9 digits (first 9). "
        "When set, mailed letters carry an Intelligent Mail barcode.",
    )
    service_type: ServiceType = Field(
        default="300",
        description="The barcode's Service Type ID (3 digits). Default 300: First-Class Mail, "
        "basic, no address corrections, no printed endorsement (USPS STID table).",
    )
    barcode_id: BarcodeId = Field(
        default="00",
        description='The barcode identifier (2 digits, the second 0-4); "00" unless the USPS '
        "says otherwise.",
    )


DocumentKind = Literal["handout", "brochure", "letter", "grid"]
"""handout: pages that flow; brochure: a tri-fold or booklet of fixed pages; letter:
a mailing's letter, then the handout; grid: an option grid, questions down the
side and 2 to 4 options across, on one sheet (``pages: 1`` or ``2``)."""

GRID_OPTIONS = (2, 4)
"""How many options an option grid compares: at least, at most."""
PageSize = Literal["letter", "a4"]
Status = Literal["draft", "approved"]


class Document(_Model):
    """A document definition: ``handouts/<id>.yaml``."""

    id: Slug
    title: Text
    subtitle: Text | None = None
    kind: DocumentKind
    template: str = Field(pattern=r"^[A-Za-z0-9_./-]+\.html$")
    options: list[Slug] = Field(min_length=1, description="Default option ids, in order.")
    offers: list[Slug] = Field(
        default_factory=list,
        description="Other option ids a clinician may choose for it (the form, --option, a "
        "mailing's rows), in the order the form lists them; default: only its own options.",
    )
    main_message: Text = Field(description="The one main message, shown first.")
    decision: Text = Field(description="The decision this document supports, and for whom.")
    factors: list[Factor] = Field(default_factory=list)
    faq: list[FAQ] = Field(default_factory=list)
    key_points: Annotated[list[Text], AfterValidator(short_points)] = Field(
        default_factory=list,
        json_schema_extra={"minItems": KEY_POINTS[0], "maxItems": KEY_POINTS[1]},
        description='3 to 5 short lines that sum up the document, printed as "In short" '
        'before "What you can do next". Say only what the document already says.',
    )
    next_steps: list[Text] = Field(default_factory=list)
    disclaimers: list[Text] = Field(default_factory=list)
    producer: Text | None = Field(
        default=None,
        description='Who produced it: "Produced by ...". Who paid is the clinic profile\'s '
        "funding:, printed after it; `check` flags a producer line that contradicts it.",
    )
    region: Region = Field(
        description='The body region: the "When to get help" block prints its warning '
        "signs from handouts/warning-signs.yaml."
    )
    glossary: list[Term] = Field(
        default_factory=list, description='Medical words defined near the top ("Words to know").'
    )
    see_also: list[SeeAlso] = Field(
        default_factory=list, description="Other documents that cover other options."
    )
    pages: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="A fixed page count (brochures, booklets, grids): `check` fails if the "
        "layout needs more.",
    )
    max_pages: int | None = Field(
        default=None,
        ge=1,
        le=200,
        description="The page budget: `check` lays the document out with its own options, "
        "on its page_size, in every language it has, and fails any that prints more pages. "
        "A booklet's pages: is its budget too.",
    )
    page_size: PageSize = "letter"
    status: Status | None = Field(
        default=None,
        description=(
            "draft: print DRAFT on every page. Approval is never written here: "
            "`handoutgen approve DOCUMENT --by NAME` records it against the text."
        ),
    )
    language: str = Field(default=DEFAULT_LANGUAGE, pattern=LANG_RE.pattern)
    styles: list[str] = Field(
        default_factory=list, description="Extra stylesheets from styles/, after the default."
    )
    review_interval_months: int = Field(default=24, ge=1, le=120)
    reading_level: ReadingLevel = Field(default_factory=ReadingLevel)
    questions: bool = Field(
        default=True, description='Print "Questions to ask at your next visit".'
    )
    values_exercise: bool = Field(default=True, description='Print "What matters most to you?".')
    worksheet: bool = Field(
        default=False,
        description='Print "My decision worksheet": what matters to me, how much each '
        "factor matters, my questions and my leaning, with lines to write on.",
    )
    letter: Letter | None = Field(default=None, description="Required for kind: letter.")
    brand: Slug | None = Field(
        default=None,
        description="The clinic profile (handouts/brands/<id>.yaml) it prints with when "
        "--clinic names none. Without one, the clinic's phone is a line to write in.",
    )
    qr: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/$.?#][^\s]*$",
        description="A URL printed as a QR code (the clinic's page or the online copy).",
    )
    images: list[Image] = Field(default_factory=list, description="Pictures for the template.")
    pages_multiple_of: int = Field(
        default=1, ge=1, le=16, description="Pad with notes pages to a multiple (4 for booklets)."
    )

    @property
    def offered(self) -> list[str]:
        """Every option id this document may print: its own, then the ones it offers."""
        return list(dict.fromkeys([*self.options, *self.offers]))


# Document keys that handoutgen no longer reads, and why: validate names the
# line to remove instead of calling the key unknown.
RETIRED_DOCUMENT_KEYS = {
    "option_pages": "options always print in the document's one flow now",
    "get_help": "the warning signs come from handouts/warning-signs.yaml, by the document's region",
}
# What to do instead of removing the line, where there is more to it.
RETIRED_INSTEAD = {
    "get_help": "remove it with its lists, and set region: lower-back or region: neck",
}
# Document keys that moved into the clinic profile: validate says where to.
MOVED_TO_PROFILE = ("phone",)


# What each pattern above means, in words, for the errors authors and designers
# read (the patterns themselves stay in the JSON Schema for editors).
_NAME_CHARS = "letters, digits, '-', '_', '.' and '/' only, no spaces"
PATTERN_HINTS: dict[str, str] = {
    r"^[a-z0-9][a-z0-9-]*$": "must be an id of lowercase letters, digits and '-', like 'spine-brochure'",
    r"^[A-Za-z0-9_./-]+\.(svg|png|jpe?g)$": (
        f"must be an .svg, .png or .jpg file inside the workspace, named with {_NAME_CHARS}"
    ),
    r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$": "must be a color like '#0b4a5e' (# and 3 or 6 hex digits)",
    LOGO_PATTERN: (
        "must be an .svg, .png, .jpg or .pdf file inside the workspace, named with "
        "letters, digits, '-', '_', '.', '/' and single spaces"
    ),
    r"^[A-Za-z0-9 -]{1,60}$": (
        "must be a font family name of letters, digits, spaces and '-' (at most 60), "
        "like 'Source Sans 3'"
    ),
    r"^https?://[^\s/$.?#][^\s]*$": "must be a web address starting with http:// or https://",
    r"^[A-Za-z0-9_./-]+\.html$": f"must be an .html file name, with {_NAME_CHARS}",
    LANG_RE.pattern: "must be a language code like 'en' or 'es-MX'",
}


OutputFormat = Literal["pdf", "html", "png"]
PdfVariant = Literal["pdf/ua-1", "pdf/a-3u", "pdf/x-4"]


# Every field of a request that describes the patient, the visit or who sent
# it: never in a file name, a log line, a cache entry or an audit record. (The
# clinic is not one: it names one of the workspace's clinic profiles.)
PERSONAL_FIELDS = (
    "patient",
    "first_name",
    "last_name",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "note",
    "clinician",
    "visit_date",
    "letter_date",
    "imb",
)


class RenderRequest(BaseModel):
    """What to render for whom. The CLI's flags and the web form fill this in.

    Personal fields are untrusted data: they are escaped into the page and
    never used as markup, template code, file names or log text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    document: str
    options: tuple[str, ...] | None = Field(
        default=None, description="Option ids; default: the document's own list."
    )
    patient: str | None = Field(default=None, max_length=500)
    visit_date: dt.date | None = None
    clinician: str | None = Field(default=None, max_length=300)
    clinic: str | None = Field(
        default=None,
        max_length=300,
        description="The clinic profile: its id or its exact name (any case). Default: the "
        "document's brand:, else none (the phone is left blank to write in).",
    )
    note: str | None = Field(default=None, max_length=20_000)
    # Mailing address (letters); printed in the envelope window.
    first_name: str | None = Field(default=None, max_length=300)
    last_name: str | None = Field(default=None, max_length=300)
    address1: str | None = Field(default=None, max_length=300)
    address2: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=200)
    state: str | None = Field(default=None, max_length=100)
    zip: str | None = Field(default=None, max_length=20)
    letter_date: dt.date | None = None
    # A mailing's Intelligent Mail barcode as its 65 bars (A ascender, D
    # descender, F full, T tracker): it encodes the ZIP, so it is personal.
    imb: str | None = Field(default=None, pattern=r"^[ADFT]{65}$")
    page_size: PageSize | None = Field(default=None, description="Default: the document's.")
    # Any case ('ES', 'es-mx'): stored in its canonical form.
    language: Annotated[str | None, BeforeValidator(_language_or_none)] = Field(
        default=None, pattern=LANG_RE.pattern
    )
    format: OutputFormat = "pdf"
    png_dpi: int = Field(default=96, ge=20, le=600)
    strict: bool = Field(default=False, description="Treat rendering warnings as errors.")
    allow_http: bool = Field(default=False, description="Let templates load http(s) URLs.")
    allow_draft: bool = Field(
        default=False, description="Render despite content errors, marked DRAFT on every page."
    )
    large_print: bool = Field(default=False, description="18 pt text, one column.")
    pdf_variant: PdfVariant = Field(
        default="pdf/ua-1",
        description="Tagged PDF/UA-1 (accessible), PDF/A-3u (archival) or PDF/X-4 (a print "
        "shop's, with a CMYK output intent; use it with print_ready).",
    )
    brand: str | None = Field(
        default=None, description="The clinic profile's id (as --clinic); default: the document's."
    )
    print_ready: bool = Field(
        default=False, description="Add bleed, and crop marks outside it, for a print shop."
    )
