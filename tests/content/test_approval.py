"""Approval that means something: recorded by `handoutgen approve` against a
hash of what the patient reads; any edit makes the document pending again;
pending pages say so; nobody approves by typing a YAML key."""

from __future__ import annotations

import datetime as dt
import json
import re

import yaml

import handoutgen
from conftest import ROOT, pages_text
from handoutgen.content.workspace import Workspace
from handoutgen.pipeline import make_request, render

DOC = "nonsurgical-options"
MARK = "Not yet approved by your clinic"
NOW = dt.datetime(2026, 11, 22, 15, 30, tzinfo=dt.UTC)


def _states(run, ws) -> dict[str, str]:
    data = json.loads(run("list", "--json", workspace=ws).stdout)
    return {d["id"]: d["approval"]["state"] for d in data["documents"]}


def _render_text(ws) -> list[str]:
    handoutgen.reset_caches()
    from handoutgen.content.library import load_library

    library = load_library(Workspace.at(ws))
    return pages_text(render(library, make_request(document=DOC, patient="Ana Li")))


def test_shipped_content_is_honestly_pending_and_every_page_says_so(run, library):
    assert set(_states(run, ROOT).values()) == {"pending"}
    pages = pages_text(render(library, make_request(document=DOC, patient="Ana Li")))
    assert all(MARK in p for p in pages), "a page without the mark"
    assert not any("DRAFT" in p for p in pages)


def test_approve_records_who_when_and_the_text_hash(run, tmp_ws):
    result = run("approve", DOC, "--by", "Dr. Sam Rivera, MD", workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"Approved {DOC}: Dr. Sam Rivera, MD, ")
    record = yaml.safe_load((tmp_ws / "handouts" / "approvals" / f"{DOC}.yaml").read_text())
    [row] = record["approvals"]
    assert row["by"] == "Dr. Sam Rivera, MD"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["at"])
    assert re.fullmatch(r"[0-9a-f]{64}", row["sha256"])
    states = _states(run, tmp_ws)
    assert states[DOC] == "approved"
    assert states["fusion-alternatives"] == "pending"  # approving one approves no other
    assert not any(MARK in p for p in _render_text(tmp_ws))
    check = run("check", DOC, workspace=tmp_ws)
    assert f"{DOC}: approved by Dr. Sam Rivera, MD on " in check.stderr


def test_an_edit_to_what_the_patient_reads_makes_it_pending_again(run, tmp_ws):
    ws = handoutgen.open_workspace(tmp_ws)
    ws.approve(DOC, by="Dr. Sam Rivera, MD", now=NOW)
    assert ws.approval(DOC).state == "approved"
    # Another document's text is not part of this one's approval.
    other = tmp_ws / "handouts" / "neck-surgery.yaml"
    other.write_text(other.read_text() + "\n# a comment\n", encoding="utf-8")
    assert ws.approval(DOC).state == "approved"
    # An option it offers is.
    option = tmp_ws / "handouts" / "options" / "spinal-injections.yaml"
    option.write_text(option.read_text().replace("steroid", "cortisone", 1), encoding="utf-8")
    state = ws.approval(DOC)
    assert state.state == "pending" and state.changed
    assert state.describe() == "changed since Dr. Sam Rivera, MD approved it on 2026-11-22"
    check = run("check", DOC, workspace=tmp_ws)
    assert f"{DOC}: changed since Dr. Sam Rivera, MD approved it on 2026-11-22" in check.stderr
    assert all(MARK in p for p in _render_text(tmp_ws))
    # An option the document offers beyond its own (offers:) is part of it too.
    ws.approve(DOC, by="Dr. Sam Rivera, MD", now=NOW)
    offered = tmp_ws / "handouts" / "options" / "fibrin-injection.yaml"
    offered.write_text(offered.read_text() + "\n# edited\n", encoding="utf-8")
    assert ws.approval(DOC).state == "pending"
    unoffered = tmp_ws / "handouts" / "options" / "fusion.yaml"
    ws.approve(DOC, by="Dr. Sam Rivera, MD", now=NOW)
    unoffered.write_text(unoffered.read_text() + "\n# edited\n", encoding="utf-8")
    assert ws.approval(DOC).state == "approved"
    # Approving again covers the new text.
    ws.approve(DOC, by="Dr. Sam Rivera, MD", now=NOW + dt.timedelta(days=1))
    assert ws.approval(DOC).state == "approved"


def test_a_translation_and_a_template_are_part_of_the_approved_text(tmp_ws_translated):
    ws = handoutgen.open_workspace(tmp_ws_translated)
    ws.approve(DOC, by="Dr. Sam Rivera, MD", now=NOW)
    es = tmp_ws_translated / "handouts" / "translations" / "es" / f"{DOC}.yaml"
    es.write_text(es.read_text() + "\n# edited\n", encoding="utf-8")
    assert ws.approval(DOC).state == "pending"
    ws.approve(DOC, by="Dr. Sam Rivera, MD", now=NOW)
    (tmp_ws_translated / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}\n', encoding="utf-8"
    )
    assert ws.approval(DOC).state == "pending"


def test_status_approved_typed_by_hand_is_refused_at_its_line(run, tmp_ws):
    path = tmp_ws / "handouts" / f"{DOC}.yaml"
    path.write_text(
        path.read_text().replace("kind: handout\n", "kind: handout\nstatus: approved\n"),
        encoding="utf-8",
    )
    line = path.read_text().splitlines().index("status: approved") + 1
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert f"handouts/{DOC}.yaml:{line}:" in result.output
    assert f"`handoutgen approve {DOC} --by NAME`" in result.output


def test_a_hand_written_record_for_other_text_does_not_approve(run, tmp_ws):
    folder = tmp_ws / "handouts" / "approvals"
    folder.mkdir()
    (folder / f"{DOC}.yaml").write_text(
        "approvals:\n  - {by: Someone, at: '2026-11-01T00:00:00Z', sha256: '" + "0" * 64 + "'}\n",
        encoding="utf-8",
    )
    assert _states(run, tmp_ws)[DOC] == "pending"
    assert all(MARK in p for p in _render_text(tmp_ws))


def test_content_with_errors_cannot_be_approved(run, tmp_ws):
    option = tmp_ws / "handouts" / "options" / "spinal-injections.yaml"
    text = option.read_text(encoding="utf-8")
    option.write_text(
        re.sub(r"(benefits:\n\s+- )", r"\1It is a guaranteed cure. ", text, count=1),
        encoding="utf-8",
    )
    result = run("approve", DOC, "--by", "Dr. Sam Rivera, MD", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "cannot be approved" in result.stderr and "guaranteed" in result.stderr
    assert not (tmp_ws / "handouts" / "approvals").exists()


def test_the_approver_must_be_named_in_one_plain_line(run, tmp_ws):
    result = run("approve", DOC, "--by", "  \t ", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "--by: say who approves" in result.stderr
    result = run("approve", DOC, "--by", "Dr. Roe\n\u202eDM", workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    record = yaml.safe_load((tmp_ws / "handouts" / "approvals" / f"{DOC}.yaml").read_text())
    assert record["approvals"][0]["by"] == "Dr. Roe DM"
    result = run("approve", "no-such-doc", "--by", "Dr. Roe", workspace=tmp_ws)
    assert result.exit_code == 1 and "unknown document 'no-such-doc'" in result.stderr


def test_the_web_form_shows_the_state(tmp_ws):
    from fastapi.testclient import TestClient

    from handoutgen.web.app import create_app

    client = TestClient(create_app(Workspace.at(tmp_ws), warm=False), base_url="http://127.0.0.1")
    assert "not yet approved by the clinic" in client.get("/").text
    assert "not yet approved by the clinic" in client.get(f"/documents/{DOC}").text
    handoutgen.open_workspace(tmp_ws).approve(DOC, by="Dr. Sam Rivera, MD", now=NOW)
    page = client.get(f"/documents/{DOC}").text
    assert "not yet approved" not in page


def test_a_damaged_record_file_is_a_located_error_not_a_silent_approval(run, tmp_ws):
    folder = tmp_ws / "handouts" / "approvals"
    folder.mkdir()
    (folder / f"{DOC}.yaml").write_text("approvals: [unclosed\n", encoding="utf-8")
    result = run("list", workspace=tmp_ws)
    assert result.exit_code == 1
    assert f"handouts/approvals/{DOC}.yaml: cannot read the approval records" in result.stderr
    (folder / f"{DOC}.yaml").write_text("approvals:\n  - {by: X}\n", encoding="utf-8")
    result = run("list", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "approval 1 needs 'by', 'at' and 'sha256'" in result.stderr
