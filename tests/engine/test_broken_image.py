"""A picture that does not load is an error, not a hole in a finished-looking PDF."""

from __future__ import annotations


def test_a_logo_that_fails_to_load_stops_the_render(run, tmp_ws):
    (tmp_ws / "assets" / "broken.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect')
    brand = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    text = brand.read_text(encoding="utf-8")
    assert "logo: assets/example-clinic-logo.svg" in text
    brand.write_text(text.replace("example-clinic-logo.svg", "broken.svg", 1), encoding="utf-8")
    out = tmp_ws / "b.pdf"
    result = run("render", "spine-brochure", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 1
    assert "Error: an image could not be loaded: Failed to load image at 'broken.svg'" in (
        result.stderr
    )
    assert str(tmp_ws) not in result.stderr.splitlines()[-1]  # the file's name, not its path
    assert not out.exists()
