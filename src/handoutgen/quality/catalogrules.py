"""Rules for the template catalogs (locale/<lang>/LC_MESSAGES/messages.po),
the packaged ones and a workspace's own.

A catalog string is text printed where the template puts it: never markup
(templating escapes it anyway), and never a different number than its msgid.
"Call 911" in English is "Llame al 911" in Spanish, not "Llame al 411"; a
msgstr that adds numbers the msgid lacks (made-up doses, "cada 4 horas") or
that runs far longer than its msgid has text the English does not say.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from handoutgen.content import i18n
from handoutgen.content.library import Library
from handoutgen.quality.finding import Finding

RULE = "catalog"
MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);|\]\(\s*https?:")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A translation runs about 0.5x (Chinese) to 1.4x (Spanish) the English; a
# msgstr past this has text its msgid does not.
MAX_RATIO = 2.5
SLACK = 25  # characters: short strings vary more


def catalog_files(library: Library) -> list[Path]:
    """Every .po catalog a render may read: the packaged ones, then the workspace's."""
    from handoutgen.render.context import library_catalog_dirs

    roots = dict.fromkeys(
        d.resolve() for d in (i18n.LOCALE_DIR, *library_catalog_dirs(library)) if d.is_dir()
    )
    return [p for root in roots for p in sorted(root.glob(f"*/LC_MESSAGES/{i18n.DOMAIN}.po"))]


def catalog_findings(library: Library) -> list[Finding]:
    from babel.messages.pofile import read_po

    out: list[Finding] = []
    for path in catalog_files(library):
        shown = library.workspace.display(path)
        try:
            with path.open("rb") as fh:
                cat = read_po(fh)
        except Exception as exc:  # noqa: BLE001 - babel raises several kinds
            out.append(Finding(shown, 1, 1, "error", RULE, f"cannot read the catalog: {exc}"))
            continue
        for msg in cat:
            if not msg.id or msg.fuzzy:
                continue
            ids = (msg.id,) if isinstance(msg.id, str) else tuple(msg.id)
            strings = (msg.string,) if isinstance(msg.string, str) else tuple(msg.string or ())
            english = " ".join(ids)
            for text in strings:
                if not text or not text.strip():
                    continue
                for problem in string_problems(english, ids[0], text, plural=len(ids) > 1):
                    out.append(
                        Finding(
                            shown,
                            msg.lineno or 1,
                            1,
                            "error",
                            RULE,
                            f"msgid {ids[0]!r:.60}: {problem}",
                        )
                    )
    return out


def string_problems(english: str, singular: str, text: str, *, plural: bool = False) -> list[str]:
    """What is wrong with one msgstr ``text`` for its msgid(s) ``english``."""
    out = []
    if MARKUP.search(text) and not MARKUP.search(english):
        out.append(
            "the translation has markup (an HTML tag, entity or link); catalog strings are "
            "text, printed as written: remove it"
        )
    en, tr = Counter(NUMBER.findall(english)), Counter(NUMBER.findall(text))
    if plural:
        # Each plural form carries the singular's or the plural's numbers.
        bad = sorted(set(tr) - set(en))
    else:
        bad = sorted(((en - tr) + (tr - en)).elements())
    if bad:
        urgent = (
            " 911 must print exactly as 911"
            if "911" in english and "911" not in NUMBER.findall(text)
            else ""
        )
        out.append(
            f"the translation's numbers ({', '.join(NUMBER.findall(text)) or 'none'}) differ "
            f"from the English ({', '.join(NUMBER.findall(english)) or 'none'}):{urgent or ''} "
            "a catalog string says what its msgid says, no more"
        )
    if i18n.placeholders(text) - i18n.placeholders(english) or (
        not plural and i18n.placeholders(english) != i18n.placeholders(text)
    ):
        out.append(
            f"placeholders {sorted(i18n.placeholders(text))} differ from the English "
            f"{sorted(i18n.placeholders(english))}"
        )
    if len(text) > MAX_RATIO * len(singular) + SLACK:
        out.append(
            f"the translation is {len(text)} characters for {len(singular)} in English: it "
            "says more than the English; translate only what the msgid says"
        )
    return out
