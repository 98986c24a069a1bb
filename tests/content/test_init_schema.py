"""`handoutgen init` and `handoutgen schema`: a new workspace validates and renders
on the first try, from any folder inside it; every shipped YAML file follows the
JSON Schema that editors are pointed at."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, pages_text
from handoutgen.cli import cli
from handoutgen.content.scaffold import STARTER
from handoutgen.content.schema import MODELS, kind_of, schema, schema_text


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_init_validates_and_renders_on_the_first_try_from_a_subfolder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "clinic")
    assert result.exit_code == 0, result.output
    ws = tmp_path / "clinic"
    for folder in (
        "handouts/options",
        "handouts/brands",
        "templates",
        "styles",
        "assets",
        "schemas",
    ):
        assert (ws / folder).is_dir(), folder
    assert (ws / "README.md").read_text().startswith("# Our patient handouts")
    # Like git: found from any folder inside it.
    monkeypatch.chdir(ws / "handouts" / "options")
    assert invoke("validate").exit_code == 0
    check = invoke("check")
    assert check.exit_code == 0, check.output
    assert "0 errors" in check.output
    result = invoke("render", "neck-surgery")
    assert result.exit_code == 0, result.output
    pdf = ws / "output" / "neck-surgery.pdf"
    pages = pages_text(pdf.read_bytes())
    assert len(pages) >= 2
    assert "Surgery for a worn disc in the neck" in pages[0]
    assert "Example Spine Clinic" in pages[0]  # the brand is wired in


def test_init_wires_the_schema_into_every_yaml_file(tmp_path):
    ws = tmp_path / "w"
    assert invoke("init", str(ws)).exit_code == 0
    yamls = sorted(ws.glob("handouts/**/*.yaml"))
    assert len(yamls) == 5  # the handout, its two options, the brand, the warning signs
    for path in yamls:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target.is_file(), first
        assert target.name == f"{kind_of(path, ws / 'handouts')}.schema.json"
        assert json.loads(target.read_text()) == schema(kind_of(path, ws / "handouts"))


def test_init_never_overwrites(tmp_path):
    ws = tmp_path / "w"
    assert invoke("init", str(ws)).exit_code == 0
    (ws / "handouts" / "neck-surgery.yaml").unlink()
    result = invoke("init", str(ws))
    assert result.exit_code == 1
    assert "is already a workspace (it has handouts/); nothing was written" in result.output
    assert not (ws / "handouts" / "neck-surgery.yaml").exists()
    # A folder without handouts/ but with a file init would write: refused too.
    other = tmp_path / "o"
    other.mkdir()
    (other / "README.md").write_text("ours\n")
    result = invoke("init", str(other))
    assert result.exit_code == 1
    assert "already has README.md" in result.output
    assert "nothing was written" in result.output
    assert (other / "README.md").read_text() == "ours\n"
    assert not (other / "handouts").exists()


def test_no_workspace_above_says_how_to_start_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("validate")
    assert result.exit_code == 1
    assert "or any folder above it" in result.output
    assert "handoutgen init DIR" in result.output


def _plain(value):
    """YAML as an editor's language server sees it: dates are strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _shipped() -> list[tuple[Path, str]]:
    out = []
    for base in (ROOT, STARTER):
        for path in sorted((base / "handouts").rglob("*.yaml")):
            if "translations" in path.relative_to(base / "handouts").parts:
                # A translation mirrors only the text fields of its English file, under
                # a translation: record (translations.py checks it); no one model fits.
                assert kind_of(path, base / "handouts") is None
                continue
            kind = kind_of(path, base / "handouts")
            assert kind, path
            out.append((path, kind))
    return out


@pytest.mark.parametrize(("path", "kind"), _shipped(), ids=lambda x: str(x)[-40:])
def test_every_shipped_yaml_file_follows_its_schema(path, kind):
    validator = jsonschema.Draft202012Validator(schema(kind))
    errors = list(validator.iter_errors(_plain(yaml.safe_load(path.read_text()))))
    assert errors == [], [e.message for e in errors]


def test_the_schema_catches_what_validate_catches():
    validator = jsonschema.Draft202012Validator(schema("brand"))
    brand = _plain(yaml.safe_load((ROOT / "handouts/brands/example-clinic.yaml").read_text()))
    assert not list(validator.iter_errors(brand))
    for bad in (
        {"logo": "assets/Riverside Logo.gif"},  # a .jpg, .pdf or a space is fine
        {"colour": "#000000"},
        {"website": "example.org"},
        {"colors": {"primary": "teal"}},
    ):
        assert list(validator.iter_errors({**brand, **bad})), bad
    option = jsonschema.Draft202012Validator(schema("option"))
    fusion = _plain(yaml.safe_load((ROOT / "handouts/options/fusion.yaml").read_text()))
    # Text is a string, or translations with an English entry.
    assert not list(option.iter_errors({**fusion, "title": {"en": "Fusion", "es": "Fusión"}}))
    assert list(option.iter_errors({**fusion, "title": {"es": "Fusión"}}))


def test_schema_command_prints_and_refreshes(tmp_path, monkeypatch):
    result = invoke("schema", "brand")
    assert result.exit_code == 0
    printed = json.loads(result.output)
    assert {"funding", "qr", "logo", "colors"} <= set(printed["properties"])
    ws = tmp_path / "w"
    assert invoke("init", str(ws)).exit_code == 0
    (ws / "schemas" / "brand.schema.json").write_text("{}")
    monkeypatch.chdir(ws / "handouts")
    assert invoke("schema").exit_code == 0
    for kind in MODELS:
        assert (ws / "schemas" / f"{kind}.schema.json").read_text() == schema_text(kind)
    # This checkout's own schemas/ (which its YAML files point at) are current.
    for kind in MODELS:
        assert (ROOT / "schemas" / f"{kind}.schema.json").read_text() == schema_text(kind), (
            "run `handoutgen schema` in the checkout"
        )
