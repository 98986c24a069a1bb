"""Rules read from translated text, field by field against the English.

A translation says what the English says: the same numbers (911 and phone
numbers among them), no English sentence left in it, every emergency sign
still an emergency (not "call the clinic tomorrow"), and no promise the
English rules refuse ("cura garantizada"). A number the English field does not
have is refused too: that is how an unsourced number shows in a translation
(the English rules already ask the English number for its source).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from handoutgen.content.library import Library
from handoutgen.content.translations import Record, dotted, text_fields
from handoutgen.content.yamlfile import Loc, YamlFile, load_yaml
from handoutgen.quality.finding import Finding

# Digits as written (Western digits in every language, content-standards),
# with a decimal point or comma inside; "7.4" and "7,4" are told apart.
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A sentence: up to its end mark, in any of the three scripts.
SENTENCE = re.compile(r"[^.!?;:。！？；：؟؛\n]+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
MIN_WORDS = 6  # shorter runs are names, drug names, abbreviations: not judged
# English function words no Spanish sentence uses: a sentence needs two before
# langdetect (slow) is asked about it.
ENGLISH_WORDS = frozenset(
    "the and you your of is are with for if it this that may can will be have has after "
    "what when how do does should about from they them their we our or not to in on at".split()
)
ENGLISH_CERTAINTY = 0.90

# Absolute promises, as contentrules.ABSOLUTES for English.
ABSOLUTES: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "es": [
        (re.compile(r"\bcura(?:r|rá|n|do|da|ción|ciones)?\b", re.I), "cura"),
        (
            re.compile(r"\bgaranti(?:za|zo|zan|zado|zada|zados|zadas|zamos|a|as)\b", re.I),
            "garantía",
        ),
        (re.compile(r"\bsin (?:ningún )?riesgos?\b", re.I), "sin riesgo"),
        (re.compile(r"\blibre de riesgos?\b", re.I), "libre de riesgo"),
        (re.compile(r"\b100\s*(?:%|por ?ciento)", re.I), "100%"),
        (re.compile(r"\bindoloro\b|\bindolora\b", re.I), "indoloro"),
    ],
    "zh": [
        (re.compile(r"治愈|根治|痊愈"), "治愈"),
        (re.compile(r"保证|担保|包治"), "保证"),
        (re.compile(r"无风险|没有风险|零风险|毫无风险"), "无风险"),
        (re.compile(r"100\s*%|百分之百"), "100%"),
        (re.compile(r"无痛"), "无痛"),
    ],
    "ar": [
        (re.compile(r"شفاء (?:تام|نهائي|كامل)|علاج نهائي|يشفي"), "شفاء تام"),
        (re.compile(r"مضمون|مضمونة|نضمن|يضمن|تضمن|ضمان"), "مضمون"),
        (re.compile(r"(?:بدون|بلا|دون|خال\S* من) (?:أي )?(?:مخاطر|خطر)"), "بدون مخاطر"),
        (re.compile(r"100\s*[%٪]|مئة بالمئة|مائة بالمائة"), "100%"),
        (re.compile(r"بدون ألم|بلا ألم"), "بدون ألم"),
    ],
}
# "Studies show", which the English rules send to the evidence list.
STUDIES_SAY = {
    "es": re.compile(
        r"\b(?:los |las )?(?:estudios|investigaciones|ensayos)\s+"
        r"(?:muestran|mostraron|demuestran|demostraron|encontraron|prueban|sugieren)\b",
        re.I,
    ),
    "zh": re.compile(r"(?:研究|试验)(?:表明|显示|证明|发现)"),
    "ar": re.compile(r"(?:الدراسات|الأبحاث|التجارب) (?:تظهر|أظهرت|تثبت|أثبتت|وجدت)"),
}
# An emergency sign sends the reader to 911 now (the template says so above
# it): words that send them to the clinic, or to wait, turn it into something
# else. Only flagged where the English sign has no such word itself.
NOT_EMERGENCY = {
    "en": re.compile(r"\b(?:clinic|tomorrow|wait|appointment|later|office|next week)\b", re.I),
    "es": re.compile(
        r"\b(?:clínica|consultorio|mañana|espere|esperar|cita|más tarde|próxima semana|"
        r"llame a su)\b",
        re.I,
    ),
    "zh": re.compile(r"诊所|明天|等待|等到|预约|以后|下周"),
    "ar": re.compile(r"العيادة|غدا|غدًا|غداً|انتظر|موعد|لاحقا|لاحقًا|الأسبوع القادم"),
}


def translated_text_findings(
    library: Library, wanted: set[tuple[str, str]] | None = None
) -> list[Finding]:
    """Numbers, English left in, emergency signs and claims of every usable
    translation file, against its English field by field."""
    from handoutgen.quality.contentrules import document_texts, option_texts

    models: dict[str, dict[str, Any]] = {
        "option": library.options,
        "document": library.documents,
        "brand": library.brands,
        "signs": {"warning-signs": library.signs},
    }
    out: list[Finding] = []
    for (lang, kind, item_id), rec in sorted(library.translations.records.items()):
        if wanted is not None and (kind, item_id) not in wanted:
            continue
        model = models[kind].get(item_id)
        if model is None or not rec.usable:
            continue
        yf = load_yaml(Path(rec.path), rec.path)[0]
        if yf is None:
            continue
        claim_locs: set[Loc] | None = None
        if kind == "option":
            claim_locs = {loc for loc, _ in option_texts(model)}
        elif kind == "document":
            claim_locs = {loc for loc, _ in document_texts(model)}
        ids = {kind: item_id} if kind in ("document", "option") else {}
        fields = [
            (loc, value["en"], value.get(lang) or value.get(lang.split("-")[0]))
            for loc, value, _ in text_fields(model)
        ]
        for loc, english, translated in fields:
            if not translated or not english:
                continue
            checker = _Field(out, yf, rec, lang, loc, english, translated, ids)
            checker.numbers()
            checker.english_left()
            if kind == "signs" and _emergency(loc):
                checker.emergency()
            if claim_locs is not None and loc in claim_locs:
                checker.claims()
    return out


def _emergency(loc: Loc) -> bool:
    """regions.<region>.emergency.<id> or after.emergency.<id>."""
    return (len(loc) == 4 and loc[0] == "regions" and loc[2] == "emergency") or (
        len(loc) == 3 and loc[0] == "after" and loc[1] == "emergency"
    )


def numbers(text: str) -> Counter[str]:
    return Counter(NUMBER.findall(text))


class _Field:
    """The rules for one translated field."""

    def __init__(
        self,
        out: list[Finding],
        yf: YamlFile,
        rec: Record,
        lang: str,
        loc: Loc,
        english: str,
        translated: str,
        ids: dict[str, str],
    ) -> None:
        self.out, self.yf, self.rec, self.lang = out, yf, rec, lang.split("-")[0]
        self.loc, self.english, self.translated, self.ids = loc, english, translated, ids

    def add(self, rule: str, message: str) -> None:
        line, col = self.yf.where(self.loc)
        self.out.append(
            Finding(
                self.rec.path,
                line,
                col,
                "error",
                rule,
                f"'{dotted(self.loc)}': {message}",
                **self.ids,
            )
        )

    def numbers(self) -> None:
        en, tr = numbers(self.english), numbers(self.translated)
        if en == tr:
            return
        lost, added = sorted((en - tr).elements()), sorted((tr - en).elements())
        what = []
        if lost:
            what.append(f"lacks {', '.join(lost)}")
        if added:
            what.append(f"has {', '.join(added)} the English does not")
        urgent = " (911 and phone numbers must print exactly)" if "911" in lost + added else ""
        self.add(
            "translation-numbers",
            f"the translation {' and '.join(what)}{urgent}; every number is kept exactly as in "
            f"the English ({self.rec.source}), in digits 0-9",
        )

    def english_left(self) -> None:
        if self.lang == "en":
            return
        for sentence in SENTENCE.findall(self.translated):
            words = LATIN_WORD.findall(sentence)
            if len(words) < MIN_WORDS:
                continue
            if len({w.lower() for w in words} & ENGLISH_WORDS) < 2:
                continue
            if _is_english(" ".join(words)):
                self.add(
                    "translation-english",
                    f"English left in the '{self.lang}' text ('{sentence.strip()[:60]}'); "
                    "translate it (names and drug names may stay as they are)",
                )
                return

    def emergency(self) -> None:
        pattern = NOT_EMERGENCY.get(self.lang)
        if pattern is None or NOT_EMERGENCY["en"].search(self.english):
            return
        if m := pattern.search(self.translated):
            self.add(
                "translation-emergency",
                f"an emergency sign ('{m.group()}') must keep its meaning: call 911 or go to "
                f"the emergency department now, never the clinic or later ({self.rec.source})",
            )

    def claims(self) -> None:
        from handoutgen.quality.contentrules import ABSOLUTES as EN_ABSOLUTES
        from handoutgen.quality.contentrules import STUDIES_SAY as EN_STUDIES

        if any(p.search(self.english) for p, _ in EN_ABSOLUTES):
            return  # the English rule reports it, at the English file
        for pattern, word in ABSOLUTES.get(self.lang, []):
            if m := pattern.search(self.translated):
                self.add(
                    "claims",
                    f"absolute promise '{m.group()}' ({word}): no treatment can promise this; "
                    "say what the English says (the chance of benefit)",
                )
        studies = STUDIES_SAY.get(self.lang)
        if (
            studies
            and not EN_STUDIES.search(self.english)
            and (m := studies.search(self.translated))
        ):
            self.add(
                "evidence",
                f"'{m.group()}' needs its source: the English does not say it; translate what "
                "the English says",
            )


@lru_cache(maxsize=4096)
def _is_english(text: str) -> bool:
    """Whether langdetect is sure ``text`` is English (seeded: the same answer
    on every run)."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return False
    return best.lang == "en" and best.prob >= ENGLISH_CERTAINTY
