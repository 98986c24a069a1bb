"""Readability formulas (textstat) and the sentence splitting the rules share."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def joined(texts: list[str]) -> str:
    """The texts as one prose passage, each ended as a sentence."""
    return " ".join(t if t.rstrip().endswith((".", "!", "?", ":")) else t + "." for t in texts)


def grade(text: str) -> float:
    """Flesch-Kincaid grade level (textstat)."""
    import textstat

    return float(textstat.flesch_kincaid_grade(text))


def smog(text: str) -> float:
    """SMOG grade (textstat); it needs at least three sentences, else 0."""
    import textstat

    return float(textstat.smog_index(text))


def long_sentences(text: str, limit: int) -> list[str]:
    """The sentences of ``text`` with more than ``limit`` words."""
    return [s for s in SENTENCE_END.split(text.strip()) if len(s.split()) > limit]


def szigriszt_pazos(text: str) -> float:
    """Szigriszt-Pazos perspicuity (textstat, with its Spanish syllable rules;
    a separate instance, so the English counts elsewhere are not switched)."""
    from textstat.textstat import textstatistics

    es = textstatistics()
    es.set_lang("es")
    return float(es.szigriszt_pazos(text))
