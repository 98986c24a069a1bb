"""Plain errors for designers and content authors, through the CLI: brand fields
in words, YAML errors where they start, fonts, CSS by file:line, template blocks,
url() relative to the stylesheet, and oversized images."""

from __future__ import annotations

from pathlib import Path


def _line(path: Path, start: str) -> int:
    return next(n for n, t in enumerate(path.read_text().splitlines(), 1) if t.startswith(start))


def test_brand_fields_are_explained_in_words(run, tmp_ws):
    path = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    text = path.read_text()
    text = text.replace("logo: assets/example-clinic-logo.svg", "logo: assets/Riverside Logo.jpg")
    text = text.replace('primary: "#0b4a5e"', "primary: teal")
    text = text.replace("website: https://example.org/spine", "website: example.org/spine")
    path.write_text(text)
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    err = result.stderr
    assert "String should match pattern" not in err
    where = "handouts/brands/example-clinic.yaml"
    assert (
        f"{where}:{_line(path, 'logo:')}:7: logo: must be an .svg or .png file inside the "
        "workspace, named with letters, digits, '-', '_', '.' and '/' only, no spaces; "
        "got 'assets/Riverside Logo.jpg'" in err
    )
    assert (
        f"{where}:{_line(path, '  primary:')}:12: colors.primary: must be a color like "
        "'#0b4a5e' (# and 3 or 6 hex digits); got 'teal'" in err
    )
    assert (
        f"{where}:{_line(path, 'website:')}:10: website: must be a web address starting with "
        "http:// or https://; got 'example.org/spine'" in err
    )


def test_yaml_unclosed_quote_is_reported_where_it_opens(run, tmp_ws):
    path = tmp_ws / "handouts" / "spine-brochure.yaml"
    text = path.read_text()
    path.write_text(text.replace('title: "Back pain: your treatment options"', 'title: "Back pain'))
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        f"handouts/spine-brochure.yaml:{_line(path, 'title:')}:8: YAML syntax error: a quote "
        "opened here is never closed" in result.stderr
    )


def test_yaml_colon_in_a_value_gets_a_quoting_hint(run, tmp_ws):
    path = tmp_ws / "handouts" / "spine-brochure.yaml"
    text = path.read_text()
    path.write_text(
        text.replace("subtitle: Facts to help you choose\n", "subtitle: Your choices: a guide\n")
    )
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line(path, "subtitle:")
    assert f"handouts/spine-brochure.yaml:{line}:" in result.stderr
    assert (
        "a value that contains ': ' must be in quotes, like "
        'subtitle: "Your choices: a guide"' in result.stderr
    )
