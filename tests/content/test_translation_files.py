"""The shipped translations mirror their English files field for field.

Each ``handouts/translations/<lang>/<path>.yaml`` carries a ``translation:``
record and the text fields of ``handouts/<path>.yaml``, nested the same way:
lists in the same order and length, dicts by key. Ids, categories, numbers,
dates, colours, file names, contact data and citation ``source:`` strings stay
in the English file only. A missing or extra field, a list of another length,
a value left in English, or a number that changed on the way is a failure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from handoutgen.content.yamlfile import load_yaml

HANDOUTS = ROOT / "handouts"
TRANSLATIONS = HANDOUTS / "translations"

# Keys whose values are not translated: identifiers, settings, file names,
# contact data and bibliographic references (they stay as published).
NOT_TEXT = frozenset(
    {
        "id",
        "category",
        "reviewed",
        "source",
        "reported_by",
        "topic",
        "src",
        "document",
        "kind",
        "template",
        "status",
        "options",
        "offers",
        "phone",
        "after_hours",
        "sample",
        "page_size",
        "language",
        "brand",
        "qr",
        "pages",
        "pages_multiple_of",
        "values_exercise",
        "questions",
        "review_interval_months",
        "reading_level",
        "styles",
        "sender",
        "signature",
        "address",
        "website",
        "logo",
        "colors",
        "font_family",
        "region",  # a document's body region (lower-back, neck)
        "sources",  # the warning signs' sources, as published
        "signs",  # an option's after-procedure sign ids (watch_after: signs:)
        "certainty",  # an outcome's low/moderate/high (the template words it)
    }
)


# Values that may read the same as the English: proper names (Latin-script
# names stay as they are in every language) and words Spanish shares.
SAME_AS_ENGLISH_OK = frozenset(
    {
        "Example Spine Clinic",  # the clinics' names
        "Riverside Back and Neck Center",
        "No",  # Spanish "No" is the English "No"
        "epidural",  # the Spanish medical word is spelled the same
        "osteoporosis",  # likewise
    }
)

METHODS = {"human", "machine+human-review", "machine"}
LANGUAGES = ("es", "zh", "ar")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _load(path: Path) -> Any:
    yf, problems = load_yaml(path, str(path.relative_to(ROOT)))
    assert not problems, [str(p) for p in problems]
    assert yf is not None
    return yf.data


def text_shape(value: Any) -> Any:
    """The English file's text fields: strings become ``"text"``, everything
    else that is not text (numbers, dates, booleans, NOT_TEXT keys) is dropped;
    None when nothing translatable is left."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in NOT_TEXT:
                continue
            shape = text_shape(item)
            if shape is not None:
                out[key] = shape
        return out or None
    if isinstance(value, list):
        shapes = [text_shape(item) for item in value]
        return None if all(s is None for s in shapes) else shapes
    return None


def compare(english: Any, translated: Any, where: str = "") -> list[str]:
    """Every way ``translated`` fails to mirror the text fields of ``english``."""
    problems: list[str] = []
    shape = text_shape(english)
    if isinstance(shape, dict) or (shape is None and isinstance(english, dict)):
        if not isinstance(translated, dict):
            return [f"{where or '<top>'}: expected a mapping, got {type(translated).__name__}"]
        wanted = set(shape or {})
        for key in sorted(wanted - set(translated)):
            problems.append(f"{where}{key}: missing")
        for key in sorted(set(translated) - wanted):
            problems.append(f"{where}{key}: not a text field of the English file")
        for key in sorted(wanted & set(translated)):
            problems.extend(compare(english[key], translated[key], f"{where}{key}."))
    elif isinstance(shape, list):
        if not isinstance(translated, list):
            return [f"{where.rstrip('.')}: expected a list, got {type(translated).__name__}"]
        kept = [(i, e) for i, e in enumerate(english) if text_shape(e) is not None]
        if len(kept) != len(translated):
            problems.append(
                f"{where.rstrip('.')}: {len(translated)} items, the English has {len(kept)}"
            )
        for (i, e), t in zip(kept, translated, strict=False):  # lengths checked above
            problems.extend(compare(e, t, f"{where}{i}."))
    elif shape == "text":
        here = where.rstrip(".")
        if not isinstance(translated, str) or not translated.strip():
            return [f"{here}: expected text, got {translated!r}"]
        en, tr = " ".join(english.split()), " ".join(translated.split())
        if en == tr and en not in SAME_AS_ENGLISH_OK:
            problems.append(f"{here}: identical to the English ({en[:40]!r})")
        lost = Counter(NUMBER.findall(en)) - Counter(NUMBER.findall(tr))
        if lost:
            problems.append(f"{here}: numbers missing or changed: {sorted(lost)}")
    return problems


def record_problems(record: Any) -> list[str]:
    """What is wrong with a ``translation:`` record."""
    if not isinstance(record, dict):
        return ["translation: a record is required (translator, reviewer, method, date)"]
    problems = []
    # source_sha256 and fields (one short hash per English text field) are
    # written by `handoutgen translations stamp`, never by hand.
    allowed = {"translator", "reviewer", "method", "date", "source_sha256", "fields", "review"}
    problems += [f"translation.{k}: unknown field" for k in sorted(set(record) - allowed)]
    if not isinstance(record.get("translator"), str) or not record["translator"].strip():
        problems.append("translation.translator: required")
    method = record.get("method")
    if method not in METHODS:
        problems.append(f"translation.method: {method!r} is not one of {sorted(METHODS)}")
    reviewer = record.get("reviewer", "missing")
    if method == "machine" and reviewer is not None:
        problems.append("translation.reviewer: must be null for an unreviewed machine draft")
    if method in ("human", "machine+human-review") and (
        not isinstance(reviewer, str) or not reviewer.strip()
    ):
        problems.append("translation.reviewer: name the qualified reviewer")
    if not isinstance(record.get("date"), dt.date):
        problems.append("translation.date: a date like 2026-11-22 is required")
    sha = record.get("source_sha256")
    if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
        problems.append("translation.source_sha256: not a SHA-256 hex digest")
    fields = record.get("fields", {})
    if not isinstance(fields, dict) or not all(
        isinstance(h, str) and re.fullmatch(r"[0-9a-f]{8}", h) for h in fields.values()
    ):
        problems.append("translation.fields: expected field: 8-hex-digit hash pairs")
    return problems


def english_files() -> list[str]:
    return sorted(
        p.relative_to(HANDOUTS).as_posix()
        for pattern in ("*.yaml", "options/*.yaml", "brands/*.yaml")
        for p in HANDOUTS.glob(pattern)
    )


def translation_files() -> list[Path]:
    return sorted(TRANSLATIONS.rglob("*.yaml"))


@pytest.mark.parametrize(
    "path", translation_files(), ids=lambda p: p.relative_to(TRANSLATIONS).as_posix()
)
def test_translation_mirrors_english(path: Path) -> None:
    lang, rel = (
        path.relative_to(TRANSLATIONS).parts[0],
        path.relative_to(TRANSLATIONS / path.relative_to(TRANSLATIONS).parts[0]),
    )
    assert lang in LANGUAGES, f"{path}: unexpected language folder {lang!r}"
    english = HANDOUTS / rel
    assert english.is_file(), f"{path}: no English file {english.relative_to(ROOT)}"
    data = _load(path)
    assert isinstance(data, dict), f"{path}: expected a mapping"
    record = data.pop("translation", None)
    problems = record_problems(record) + compare(_load(english), data)
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def _expected(lang: str) -> set[str]:
    if lang == "es":
        return set(english_files())
    doc = _load(HANDOUTS / "nonsurgical-options.yaml")
    return {"nonsurgical-options.yaml", "brands/example-clinic.yaml", "warning-signs.yaml"} | {
        f"options/{o}.yaml" for o in doc["options"]
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_promised_file_is_translated(lang: str) -> None:
    """Spanish covers everything shipped; Chinese and Arabic cover
    nonsurgical-options, every option it uses, the brand and the warning signs."""
    have = {
        p.relative_to(TRANSLATIONS / lang).as_posix() for p in (TRANSLATIONS / lang).rglob("*.yaml")
    }
    missing = _expected(lang) - have
    assert not missing, f"{lang}: not translated: {sorted(missing)}"


def test_shipped_translations_are_honestly_unreviewed() -> None:
    """The shipped text is a machine draft nobody qualified has reviewed yet."""
    for path in translation_files():
        record = _load(path)["translation"]
        assert record["method"] == "machine" and record["reviewer"] is None, path


ENGLISH = {
    "id": "x",
    "title": "Spinal fusion",
    "reviewed": dt.date(2026, 11, 22),
    "benefits": ["One", "Two"],
    "facts": {"motion": "Yes", "hospital": "No"},
    "evidence": [
        {"claim": "247 people, 7.4 days", "source": "Försth P, 2016", "level": "one trial"}
    ],
}
GOOD = {
    "title": "Fusión espinal",
    "benefits": ["Uno", "Dos"],
    "facts": {"motion": "Sí", "hospital": "No"},
    "evidence": [{"claim": "247 personas, 7.4 días", "level": "un estudio"}],
}


def test_the_mirror_check_passes_a_faithful_translation() -> None:
    assert compare(ENGLISH, GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("title"), "title: missing"),
        (lambda d: d.update(id="x"), "id: not a text field"),
        (lambda d: d["benefits"].pop(), "benefits: 1 items, the English has 2"),
        (lambda d: d["facts"].update(motion="Yes"), "facts.motion: identical to the English"),
        (lambda d: d["facts"].pop("hospital"), "facts.hospital: missing"),
        (lambda d: d["evidence"][0].update(claim="247 personas, 7 días"), "numbers missing"),
        (lambda d: d["evidence"][0].update(source="x"), "evidence.0.source: not a text field"),
        (lambda d: d.update(benefits="Uno"), "benefits: expected a list"),
        (lambda d: d["benefits"].__setitem__(0, ""), "benefits.0: expected text"),
    ],
)
def test_the_mirror_check_can_fail(change, expected: str) -> None:
    import copy

    bad = copy.deepcopy(GOOD)
    change(bad)
    problems = compare(ENGLISH, bad)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, "a record is required"),
        (
            {
                "translator": "x",
                "reviewer": "Dr X",
                "method": "machine",
                "date": dt.date(2026, 1, 1),
            },
            "must be null",
        ),
        (
            {"translator": "x", "reviewer": None, "method": "human", "date": dt.date(2026, 1, 1)},
            "name the qualified reviewer",
        ),
        (
            {"translator": "x", "reviewer": None, "method": "google", "date": dt.date(2026, 1, 1)},
            "is not one of",
        ),
        (
            {"translator": "x", "reviewer": None, "method": "machine", "date": "soon"},
            "translation.date",
        ),
        (
            {"translator": "", "reviewer": None, "method": "machine", "date": dt.date(2026, 1, 1)},
            "translator: required",
        ),
        (
            {"translator": "x", "method": "machine", "date": dt.date(2026, 1, 1), "by": "me"},
            "translation.by: unknown field",
        ),
        (
            {
                "translator": "x",
                "method": "machine",
                "date": dt.date(2026, 1, 1),
                "source_sha256": "abc",
            },
            "not a SHA-256",
        ),
        (
            {
                "translator": "x",
                "method": "machine",
                "date": dt.date(2026, 1, 1),
                "fields": {"title": "zz"},
            },
            "translation.fields",
        ),
    ],
)
def test_the_record_check_can_fail(record: Any, expected: str) -> None:
    assert any(expected in p for p in record_problems(record)), record_problems(record)


def test_translation_files_never_load_as_content_of_their_own() -> None:
    """A translation file is never read as a document, option or brand of its
    own (``handouts/translations/es/fusion-alternatives.yaml`` is not a second
    document), and the English content still loads with them in place."""
    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace

    library = load_library(Workspace.at(ROOT))
    assert set(library.documents) == {
        p.stem for p in HANDOUTS.glob("*.yaml") if p.name != "warning-signs.yaml"
    }
    assert set(library.options) == {p.stem for p in HANDOUTS.glob("options/*.yaml")}
    assert set(library.brands) == {p.stem for p in HANDOUTS.glob("brands/*.yaml")}
    assert not [f for f in library.files.values() if "translations" in Path(f.path).parts]


def _texts(value: Any) -> list[str]:
    """Every translated text of a file, record left out."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() if k != "translation" for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


# Where a sentence ends, and how long one may be: 25 words (the content
# standards); for Chinese, which has no spaces, 50 characters.
SENTENCE_END = {"es": r"(?<=[.!?])\s+", "ar": r"(?<=[.!?؟])\s+", "zh": r"(?<=[。！？])"}


def _too_long(lang: str, sentence: str) -> bool:
    if lang == "zh":
        return len(sentence) > 50
    return len(sentence.split()) > 25


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sentences_are_short(lang: str) -> None:
    long = [
        f"{path.relative_to(TRANSLATIONS)}: {sentence}"
        for path in sorted((TRANSLATIONS / lang).rglob("*.yaml"))
        for text in _texts(_load(path))
        for sentence in re.split(SENTENCE_END[lang], " ".join(text.split()))
        if _too_long(lang, sentence.strip())
    ]
    assert not long, "\n".join(long)


def test_spanish_reads_fairly_easily() -> None:
    """Fernández-Huerta 70 or more (fairly easy, about 7th grade) and
    Szigriszt-Pazos 55 or more (INFLESZ "normal") for each file."""
    from textstat.textstat import textstatistics

    es = textstatistics()  # its own instance: the English counts elsewhere stay English
    es.set_lang("es")
    hard = {}
    for path in sorted((TRANSLATIONS / "es").rglob("*.yaml")):
        body = " ".join(_texts(_load(path)))
        if len(body.split()) >= 100:  # the formulas mean nothing on a name
            scores = (es.fernandez_huerta(body), es.szigriszt_pazos(body))
            if scores[0] < 70 or scores[1] < 55:
                hard[path.relative_to(TRANSLATIONS).as_posix()] = scores
    assert not hard, hard
