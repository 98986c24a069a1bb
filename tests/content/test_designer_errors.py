"""Plain errors for designers and content authors, through the CLI: brand fields
in words, YAML errors where they start, fonts, CSS by file:line, template blocks,
url() relative to the stylesheet, and oversized images."""

from __future__ import annotations

import re
from pathlib import Path


def _line(path: Path, start: str) -> int:
    return next(n for n, t in enumerate(path.read_text().splitlines(), 1) if t.startswith(start))


def test_brand_fields_are_explained_in_words(run, tmp_ws):
    path = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    text = path.read_text()
    text = text.replace("logo: assets/example-clinic-logo.svg", "logo: assets/Riverside Logo.gif")
    text = text.replace('primary: "#0b4a5e"', "primary: teal")
    text = text.replace("website: https://example.org/spine", "website: example.org/spine")
    path.write_text(text)
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    err = result.stderr
    assert "String should match pattern" not in err
    where = "handouts/brands/example-clinic.yaml"
    assert (
        f"{where}:{_line(path, 'logo:')}:7: logo: must be an .svg, .png, .jpg or .pdf file "
        "inside the workspace, named with letters, digits, '-', '_', '.', '/' and single "
        "spaces; got 'assets/Riverside Logo.gif'" in err
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


def test_a_block_the_parent_does_not_define_is_an_error(run, tmp_ws):
    (tmp_ws / "templates" / "mine.html").write_text(
        '{% extends "default/handout.html" %}\n'
        "{% block masthead %}<h1>Ours</h1>{% endblock %}\n"
        "\n"
        "{% block sidebar %}Never shown{% endblock %}\n"
    )
    path = tmp_ws / "handouts" / "fusion-alternatives.yaml"
    path.write_text(path.read_text().replace("template: handout.html", "template: mine.html"))
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        "templates/mine.html:4: {% block sidebar %} is not a block of default/handout.html or "
        "base.html, so it would never be shown; the blocks you can fill are: after_about, back_cover, before_table,"
        in result.stderr
    )
    assert "masthead" not in result.stderr.split("never be shown")[0]  # that one is fine
    # The render refuses it too (it loads the content first), and writes nothing.
    out = tmp_ws / "x.pdf"
    assert run("render", "fusion-alternatives", "-o", str(out), workspace=tmp_ws).exit_code == 1
    assert not out.exists()


def test_css_missing_brace_is_reported_in_the_designers_file(run, tmp_ws):
    (tmp_ws / "styles" / "designer.css").write_text(
        "/* our look */\n.cover h1 { color: #ff0000;\n.cover .key { font-size: 14pt; }\n"
    )
    (tmp_ws / "styles" / "ok.css").write_text(".a { color: red; }\n.b { color blue; }\n")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        "styles/designer.css:2:11: CSS syntax error: the '{' opened here is never closed, so "
        "every rule after it is swallowed into this one; add the missing '}'" in result.stderr
    )
    assert "styles/ok.css:2:" in result.stderr
    assert "expected a 'property: value;' declaration here" in result.stderr


def test_font_family_not_installed_names_alternatives(run, tmp_ws):
    path = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    path.write_text(path.read_text() + "font_family: Noto Serf\n")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        f"handouts/brands/example-clinic.yaml:{_line(path, 'font_family:')}:14: font_family "
        "'Noto Serf' is not installed on this machine" in result.stderr
    )
    assert "did you mean 'Noto Serif'" in result.stderr
    assert "installed families include Atkinson Hyperlegible" in result.stderr
    # An installed family is fine.
    path.write_text(path.read_text().replace("Noto Serf", "Noto Serif"))
    assert run("validate", workspace=tmp_ws).exit_code == 0


def test_url_in_a_stylesheet_is_relative_to_it_and_confined(run, tmp_ws):
    import shutil
    import subprocess

    shutil.copy(
        "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf", tmp_ws / "assets" / "face.ttf"
    )
    css = tmp_ws / "styles" / "designer.css"
    css.write_text(
        '@font-face { font-family: "Designer Face"; src: url(../assets/face.ttf); }\n'
        '.cover h1 { font-family: "Designer Face"; }\n'
    )
    brand = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    brand.write_text(brand.read_text() + "font_family: Designer Face\n")  # shipped: accepted
    doc = tmp_ws / "handouts" / "spine-brochure.yaml"
    doc.write_text(doc.read_text().replace("pages: 2\n", "pages: 2\nstyles: [designer.css]\n"))
    out = tmp_ws / "b.pdf"
    result = run("render", "spine-brochure", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    assert "Designer-Face" in fonts  # the face from assets/, found from styles/
    # Up and out of the workspace: refused, naming the stylesheet and line.
    css.write_text(css.read_text().replace("../assets/face.ttf", "../../../etc/passwd"))
    out.unlink()
    result = run("render", "spine-brochure", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 1
    assert "styles/designer.css:1: url() leads outside the workspace" in result.output
    assert "passwd" not in result.output
    assert not out.exists()


def test_an_oversized_logo_is_a_warning_with_its_effective_dpi(run, tmp_ws):
    from PIL import Image

    # 23 megapixels, over the budget; a grey square compresses to almost nothing.
    Image.new("L", (4800, 4800), 200).save(tmp_ws / "assets" / "big-logo.png")
    brand = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    brand.write_text(
        brand.read_text().replace(
            "logo: assets/example-clinic-logo.svg", "logo: assets/big-logo.png"
        )
    )
    result = run("check", "spine-brochure", workspace=tmp_ws)
    assert result.exit_code == 0, result.output  # a warning: the brochure still prints
    m = re.search(
        r"handouts/brands/example-clinic\.yaml:\d+:7: warning: \[images\] assets/big-logo\.png "
        r"is 4800x4800 pixels \(23 megapixels\); printed ([\d.]+) in wide that is (\d+) dpi, "
        r"and 300 dpi is all print needs: scale it to about (\d+) pixels wide",
        result.output,
    )
    assert m, result.output
    inches, dpi, want = float(m.group(1)), int(m.group(2)), int(m.group(3))
    assert 0.2 < inches < 3.7  # the logo sits inside a 3.67 in panel
    assert abs(dpi - 4800 / inches) < 0.01 * dpi + 1
    assert abs(want - 300 * inches) <= 1
    # The shipped SVG logo is vector: no warning.
    assert "[images]" not in run("check", "spine-brochure").output
