"""A document's key points ("In short"): how many, and how short each is."""

from __future__ import annotations

KEY_POINTS = (3, 5)
"""How many key points a document may sum up with: at least, at most."""
KEY_POINT_WORDS = 20


def short_points(points: list[dict[str, str]]) -> list[dict[str, str]]:
    """3 to 5 points, each one short line in every language (a pydantic validator)."""
    low, high = KEY_POINTS
    if not low <= len(points) <= high:
        raise ValueError(
            f"{len(points)} key points: sum up in {low} to {high} short lines, or leave "
            "key_points out"
        )
    # Chinese has no spaces between words: characters stand in for words there.
    for n, (lang, text) in ((n, i) for n, v in enumerate(points, 1) for i in v.items()):
        if len(text.split()) > KEY_POINT_WORDS or len(text) > 8 * KEY_POINT_WORDS:
            raise ValueError(
                f"key point {n} ('{lang}') is too long ({len(text.split())} words, "
                f"{len(text)} characters): keep each to one short line of at most "
                f"{KEY_POINT_WORDS} words"
            )
    return points
