"""Attacks from a hostile workspace: templates that reach for Python internals
or files outside the workspace, content that names such files, and YAML files
built to exhaust memory or crash the parser. Each must fail with a clear,
located error and leave nothing behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import pages_text
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.content.yamlfile import YamlInputError, load_bounded
from handoutgen.core.errors import HandoutgenError, ValidationFailed
from handoutgen.pipeline import make_request, render

PASSWD = Path("/etc/passwd")
PASSWD_TEXT = "root:x:0:0"  # the first entry of any Debian /etc/passwd


def _use_template(ws: Path, body: str, name: str = "evil.html") -> None:
    (ws / "templates" / name).write_text(
        '{% extends "handout.html" %}\n{% block before_table %}\n' + body + "\n{% endblock %}\n"
    )
    path = ws / "handouts" / "nonsurgical-options.yaml"
    path.write_text(path.read_text().replace("template: handout.html", f"template: {name}"))


def _everything(result, ws: Path) -> str:
    """All a run showed and wrote: stdout, stderr and every file it produced."""
    out = [result.stdout, result.stderr]
    for path in ws.rglob("*"):
        if path.is_file() and path.suffix in (".pdf", ".png") or path.name == "out.html":
            out.append(path.read_bytes().decode("latin-1"))
    return "\n".join(out)


# -- templates ------------------------------------------------------------------------


RCE = [
    '{{ cycler.__init__.__globals__.os.popen("id").read() }}',
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ doc.__class__.__init__.__globals__ }}",
    "{{ doc.model_copy() }}",
    "{{ vdp.splitting }}",
    "{{ vdp.slots }}",
    "{{ person.update({'patient': 'x'}) }}",
    "{{ options.append(1) }}",
    "{{ 'x' * 100000000 }}",
    "{{ 9 ** 99999999 }}",
    "{{ ''|attr('__class__') }}",
    "{{ '{0.__class__}'.format(doc) }}",
    "{{ person.clinician|length }}",  # None has no length: a bug, still a located error
    "{{ 1 / 0 }}",
]


@pytest.mark.parametrize("body", RCE, ids=range(len(RCE)))
def test_a_template_reaching_for_internals_gets_a_located_error(tmp_ws, run, body):
    marker = tmp_ws / "pwned"
    _use_template(tmp_ws, body.replace('"id"', f'"touch {marker}"'))
    result = run("render", "nonsurgical-options", "-o", "out.pdf", workspace=tmp_ws)
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("Error: templates/evil.html:3: "), result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()
    assert not (tmp_ws / "out.pdf").exists()
    assert "uid=" not in _everything(result, tmp_ws)


def test_the_rce_template_of_the_report_does_not_execute(tmp_ws, run):
    marker = tmp_ws / "pwned"
    _use_template(
        tmp_ws, f'{{{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}}}'
    )
    result = run("render", "nonsurgical-options", "-o", "out.pdf", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "templates/evil.html:3: not allowed in a template" in result.stderr
    assert not marker.exists()


def test_shipped_templates_still_render_in_the_sandbox(library):
    for doc_id in library.documents:
        pdf = render(library, make_request(document=doc_id, patient="Pat Doe", note="Rest."))
        assert pdf.startswith(b"%PDF")


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "../../../../../../etc/passwd", "../handouts/fusion-alternatives.yaml"],
    ids=["absolute", "dotdot", "dotdot-inside"],
)
def test_the_stylesheet_helper_cannot_read_outside_its_folders(tmp_ws, run, name):
    _use_template(tmp_ws, f'<style>{{{{ stylesheet("{name}") }}}}</style>')
    result = run("render", "nonsurgical-options", "-o", "out.pdf", workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: templates/evil.html:3: stylesheet path "), result.stderr
    everything = _everything(result, tmp_ws)
    assert PASSWD_TEXT not in everything and "/etc/passwd" not in everything
    assert not (tmp_ws / "out.pdf").exists()


def test_a_symlink_out_of_the_workspace_is_refused_everywhere(tmp_ws, run):
    (tmp_ws / "styles" / "evil.css").symlink_to(PASSWD)
    (tmp_ws / "templates" / "evil.html").symlink_to(PASSWD)
    (tmp_ws / "assets" / "evil.svg").symlink_to(PASSWD)
    _use_template(tmp_ws, "", name="uses.html")
    path = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    path.write_text(path.read_text() + "styles: [evil.css]\n")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/nonsurgical-options.yaml:" in result.stderr
    assert "stylesheet path leads outside the workspace (through a symlink)" in result.stderr
    assert PASSWD_TEXT not in _everything(result, tmp_ws)
    # A template file that is such a symlink is refused by the loader too.
    path.write_text(path.read_text().replace("styles: [evil.css]\n", ""))
    path.write_text(path.read_text().replace("template: uses.html", "template: evil.html"))
    result = run("render", "nonsurgical-options", "-o", "out.pdf", workspace=tmp_ws)
    assert result.exit_code == 1
    assert PASSWD_TEXT not in _everything(result, tmp_ws)
    # And an option file that is a symlink out is a located problem, never read.
    (tmp_ws / "handouts" / "options" / "evil.yaml").symlink_to(PASSWD)
    result = run("validate", workspace=tmp_ws)
    assert "handouts/options/evil.yaml: leads outside the workspace" in result.stderr
    assert PASSWD_TEXT not in _everything(result, tmp_ws)


# -- content naming files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("styles", "[/etc/passwd]", "stylesheet path is an absolute path"),
        ("styles", "[../../outside.css]", "stylesheet path goes up with '..'"),
        ("styles", "[a/../../outside.css]", "stylesheet path goes up with '..'"),
        ("template", "../../../etc/passwd.html", "template path goes up with '..'"),
        ("template", "/etc/x.html", "template path is an absolute path"),
    ],
)
def test_validate_and_check_report_escaping_paths_at_file_and_line(tmp_ws, run, key, value, reason):
    (tmp_ws.parent / "outside.css").write_text("body { color: red } /* OUTSIDE */")
    path = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    text = path.read_text()
    if key == "template":
        text = text.replace("template: handout.html", f"template: {value}")
    else:
        text += f"{key}: {value}\n"
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith(f"{key}:"))
    for command in (("validate",), ("check",), ("render", "nonsurgical-options")):
        result = (
            run(*command, "-o", "out.pdf", workspace=tmp_ws)
            if command[0] == "render"
            else (run(*command, workspace=tmp_ws))
        )
        assert result.exit_code == 1, (command, result.stdout)
        assert f"handouts/nonsurgical-options.yaml:{line}:" in result.stderr, result.stderr
        assert reason in result.stderr
        everything = _everything(result, tmp_ws)
        assert "/etc/passwd" not in everything and PASSWD_TEXT not in everything
        assert "OUTSIDE" not in everything
    assert not (tmp_ws / "out.pdf").exists()


@pytest.mark.parametrize("src", ["/etc/x.png", "../outside.png", "assets/../../outside.png"])
def test_image_and_logo_paths_are_confined(tmp_ws, src):
    (tmp_ws.parent / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    brand = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    brand.write_text(brand.read_text().replace("logo: assets/", f"logo: {src}  # was assets/"))
    with pytest.raises(ValidationFailed) as info:
        load_library(Workspace.at(tmp_ws))
    problems = [str(p) for p in info.value.problems]
    assert any(
        p.startswith("handouts/brands/example-clinic.yaml:") and "logo path" in p for p in problems
    ), problems


# -- hostile YAML -----------------------------------------------------------------------------


def _laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghijklmnop"[:levels]:
        text += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    return text


def test_an_alias_bomb_is_a_located_error(tmp_ws, run):
    (tmp_ws / "handouts" / "options" / "bomb.yaml").write_text("id: bomb\n" + _laughs())
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/options/bomb.yaml:7:" in result.stderr
    assert "aliases expand to more than 100,000 values" in result.stderr


def test_fifty_thousand_levels_of_nesting_is_a_located_error_not_a_crash(tmp_ws, run):
    deep = "id: deep\ntitle: " + "[" * 50_000 + "]" * 50_000 + "\n"
    (tmp_ws / "handouts" / "options" / "deep.yaml").write_text(deep)
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/options/deep.yaml:2:" in result.stderr
    # Refused for its nesting, whoever refused it first: our limit (64) or the
    # parser's own (PyYAML 6.0.4's libyaml: "exceeded maximum nesting depth").
    assert re.search(r"deep\.yaml:2:\d+: .*\bnest", result.stderr, re.I), result.stderr


def test_the_bombs_cannot_crash_a_fresh_process(tmp_ws):
    """A segfault would kill the process rather than raise: run it for real."""
    import subprocess
    import sys

    (tmp_ws / "handouts" / "options" / "deep.yaml").write_text("x: " + "[" * 50_000 + "\n")
    (tmp_ws / "handouts" / "options" / "bomb.yaml").write_text(_laughs(12))
    out = subprocess.run(
        [sys.executable, "-m", "handoutgen.cli", "--workspace", str(tmp_ws), "validate"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr
    assert "deep.yaml:1:" in out.stderr and "bomb.yaml:" in out.stderr


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (_laughs(), 6, "aliases expand"),
        ("- " + "[" * 100 + "]" * 100, 1, "nested more than"),
        ("- &a [1, *a]", 1, "refers to the collection it is in"),
        ("- *nowhere", 1, "is not defined"),
        ("- id: 1\n- a: b: c\n", 2, "YAML syntax error"),
    ],
)
def test_load_bounded_reports_source_and_line(text, line, message):
    with pytest.raises(YamlInputError) as info:
        load_bounded(text, "people.yaml")
    assert str(info.value.format_message()).startswith(f"people.yaml:{line}:")
    assert message in info.value.format_message()
    assert isinstance(info.value, HandoutgenError)


def test_load_bounded_reads_ordinary_yaml_with_aliases():
    text = "base: &b {city: Springfield}\npeople:\n  - {id: a, <<: *b}\n  - {id: b, <<: *b}\n"
    assert load_bounded(text, "x.yaml")["people"][1] == {"id": "b", "city": "Springfield"}


def test_recipient_lists_use_the_bounded_loader(tmp_path, run):
    """A few hundred bytes of nested aliases in a recipient list: refused in
    seconds through the real batch command, at the line where it goes wrong."""
    import time

    path = tmp_path / "people.yaml"
    path.write_text(_laughs())
    assert path.stat().st_size < 1000
    t0 = time.monotonic()
    result = run("batch", "followup-letter", str(path), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}:6:")
    assert "aliases expand to more than 100,000 values" in result.stderr
    assert time.monotonic() - t0 < 20
    assert not (tmp_path / "out").exists()


def test_a_yaml_file_that_is_a_device_or_huge_is_refused(tmp_ws, run):
    (tmp_ws / "handouts" / "options" / "zero.yaml").symlink_to("/dev/zero")
    (tmp_ws / "handouts" / "options" / "huge.yaml").write_bytes(b"# " + b"x" * (5 << 20))
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/options/zero.yaml: " in result.stderr
    assert "handouts/options/huge.yaml: file is larger than" in result.stderr


def test_hostile_text_never_reaches_a_pdf(tmp_ws, library):
    pdf = render(library, make_request(document="nonsurgical-options", patient="{{ 7*7 }}"))
    assert "{{ 7*7 }}" in " ".join(pages_text(pdf))


@pytest.mark.parametrize(
    "css",
    [
        '@import url("file:///etc/passwd");',
        '@import "../../../../../../../../etc/passwd";',
        "body { background: url(/etc/passwd); }",
        "body { background: url(file:///etc/passwd); }",
    ],
    ids=["import-url", "import-relative", "background", "background-file-url"],
)
def test_a_workspace_stylesheet_cannot_pull_in_outside_files(tmp_ws, run, css):
    (tmp_ws / "styles" / "extra.css").write_text(css + "\n")
    path = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    path.write_text(path.read_text() + "styles: [extra.css]\n")
    result = run("render", "nonsurgical-options", "-o", "out.pdf", workspace=tmp_ws)
    if css.startswith("@import"):
        # Stylesheets are inlined after others, where CSS ignores an @import:
        # nothing is fetched, and the handout renders.
        assert result.exit_code == 0, result.stderr
        text = " ".join(pages_text((tmp_ws / "out.pdf").read_bytes()))
        assert PASSWD_TEXT not in text
    else:
        assert result.exit_code == 1
        assert "refused to load a local file: it lies outside the workspace" in result.stderr
        assert "/etc/passwd" not in result.stderr
        assert not (tmp_ws / "out.pdf").exists()
    assert PASSWD_TEXT not in result.stderr + result.stdout


def test_network_access_is_off_and_the_hint_names_a_real_flag(tmp_ws, run):
    # Port 9 on loopback: refused at once, no DNS and nothing leaves the machine.
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block content %}'
        '<img src="http://127.0.0.1:9/x.png" alt="x">{{ super() }}{% endblock %}\n'
    )
    off = run("render", "nonsurgical-options", "-o", "a.pdf", workspace=tmp_ws)
    assert off.exit_code == 1
    assert off.stderr.strip() == (
        "Error: refused to load http://127.0.0.1:9/x.png: network access is off "
        "(`handoutgen render --allow-http` turns it on for one render)"
    )
    # With the flag the fetch is tried (and fails here): a picture that does
    # not load is an error, never a hole in the page.
    on = run("render", "nonsurgical-options", "-o", "b.pdf", "--allow-http", workspace=tmp_ws)
    assert on.exit_code == 1
    assert (
        "Error: an image could not be loaded: Failed to load image at 'http://127.0.0.1:9/x.png'"
        in on.stderr
    )
    assert not (tmp_ws / "b.pdf").exists()
