"""docs/quality-scores.md: every scored item is there once, and the totals add up."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "quality-scores.md"
DOCUMENTS = ["fusion-alternatives", "nonsurgical-options", "newer-options", "neck-surgery"]
# PEMAT-P: items 13 and 14 are for audiovisual material only.
UNDERSTANDABILITY = [n for n in range(1, 20) if n not in (13, 14)]
ACTIONABILITY = list(range(20, 27))


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    nxt = text.find("\n## ", start + len(heading))
    return text[start : nxt if nxt != -1 else len(text)]


def _scores(section: str, title: str) -> dict[int, str]:
    table = _section(section, f"### {title}").split("\n### ")[0]
    rows = re.findall(r"^\| (\d+) \| [^|]+ \| \**(Agree|Disagree|N/A)", table, re.M)
    return {int(number): verdict for number, verdict in rows}


def _percent(scores: dict[int, str]) -> tuple[int, int, int]:
    applicable = [v for v in scores.values() if v != "N/A"]
    agree = applicable.count("Agree")
    return agree, len(applicable), round(100 * agree / len(applicable))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_item_is_scored_and_the_summary_adds_up(document):
    text = DOC.read_text(encoding="utf-8")
    assert (ROOT / "handouts" / f"{document}.yaml").exists()
    section = _section(text, f"## {document}:")
    understand = _scores(section, "PEMAT-P understandability")
    act = _scores(section, "PEMAT-P actionability")
    assert sorted(understand) == UNDERSTANDABILITY
    assert sorted(act) == ACTIONABILITY
    ipdas = re.findall(r"^\| Describes|^\| Explicitly", _section(section, "### IPDAS"), re.M)
    assert len(ipdas) == 6
    u, a = _percent(understand), _percent(act)
    row = next(line for line in text.splitlines() if line.startswith(f"| `{document}` |"))
    assert f"{u[0]}/{u[1]} = **{u[2]}%**" in row
    assert f"{a[0]}/{a[1]} = **{a[2]}%**" in row
    # The section's own headings carry the same totals.
    assert f"understandability ({u[0]}/{u[1]} = {u[2]}%)" in section
    assert f"actionability ({a[0]}/{a[1]} = {a[2]}%)" in section
