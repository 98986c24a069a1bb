"""`init` and `schema -o` never put sample content or a schema over a clinic's files."""

from __future__ import annotations

import json


def test_init_refuses_an_existing_workspace(run, tmp_ws):
    before = sorted(p.name for p in (tmp_ws / "handouts").iterdir())
    result = run("init", str(tmp_ws), workspace=tmp_ws)
    assert result.exit_code == 1
    assert "is already a workspace (it has handouts/); nothing was written" in result.stderr
    assert sorted(p.name for p in (tmp_ws / "handouts").iterdir()) == before


def test_schema_output_never_replaces_content(run, tmp_ws):
    doc = tmp_ws / "handouts" / "neck-surgery.yaml"
    text = doc.read_text(encoding="utf-8")
    result = run("schema", "option", "-o", str(doc), workspace=tmp_ws)
    assert result.exit_code == 1
    assert "exists and is not a JSON Schema; nothing was written" in result.stderr
    assert doc.read_text(encoding="utf-8") == text
    missing = run("schema", "option", "-o", str(tmp_ws / "nodir" / "x.json"), workspace=tmp_ws)
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    # "-" is standard output; an earlier schema is replaced.
    out = run("schema", "option", "-o", "-", workspace=tmp_ws)
    assert out.exit_code == 0 and "$schema" in json.loads(out.stdout)
    target = tmp_ws / "option.schema.json"
    assert run("schema", "option", "-o", str(target), workspace=tmp_ws).exit_code == 0
    assert run("schema", "option", "-o", str(target), workspace=tmp_ws).exit_code == 0
    assert not (tmp_ws / "-").exists()
