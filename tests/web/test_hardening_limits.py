"""Issue 25's limits made whole, through real `serve` and `batch` processes: a
stuck render stops only its own worker, an OS cap on a worker's memory that
catches what the template budget does not see, and the limits as flags
(flag > HANDOUTGEN_* variable > default; a bad value is a usage error)."""

from __future__ import annotations

import contextlib
import glob
import re
import threading
import time
from pathlib import Path

import pytest
from test_hardening import Server, _form, _use_template

from conftest import read_manifest, write_csv

LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
# A string doubled in a variable: no output and no call the sandbox checks,
# so only the OS cap stops it (1 MB doubled 11 times is 2 GB, past the cap of
# 1536 + 8 x 1 MB with --template-max-mb 1).
BOMB = '{% set s = "x" * 1000000 %}' + "{% set s = s ~ s %}" * 11 + "{{ s|length }}"
HEADER = "id,first_name,last_name,address1,city,state,zip,options,clinician,visit_date,note"


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started (its render workers, the resource tracker)."""
    found: set[int] = set()
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError):  # a thread that just ended
            found |= {int(p) for p in Path(path).read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# -- 1. a stuck render stops only its own worker ---------------------------------------------


def test_a_stuck_render_stops_only_its_own_worker(tmp_ws, tmp_path):
    """Two clinicians render back to back while a third's render hangs: the
    hung one is answered 'too long' after --render-timeout (the flag, over the
    variable) and only its worker is replaced; every other render is a PDF,
    before, during and after."""
    _use_template(tmp_ws, "{% if person.patient == 'Stuck' %}" + LOOP + "{% endif %}")
    env = {"HANDOUTGEN_TEMPLATE_SECONDS": "600", "HANDOUTGEN_RENDER_TIMEOUT": "600"}
    args = ("--workers", "2", "--render-timeout", "20")
    with Server(tmp_ws, tmp_path, *args, env=env) as server:
        stuck_done = threading.Event()
        results: list[tuple[float, float, int, bytes]] = []

        def clinician() -> None:
            with server.client() as c:
                fields = _form(c)
                while True:
                    began = time.monotonic()
                    r = c.post("/render", data=fields)
                    results.append((began, time.monotonic(), r.status_code, r.content[:4]))
                    if stuck_done.is_set() or r.status_code != 200:
                        return

        with server.client() as c:
            fields = _form(c, patient="Stuck")
            others = [threading.Thread(target=clinician) for _ in range(2)]
            for t in others:
                t.start()
            deadline = time.monotonic() + 120
            while len(results) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)  # both workers warm: the others have their PDFs
            start = time.monotonic()
            stuck = c.post("/render", data=fields)
            answered = time.monotonic()
            stuck_done.set()
            for t in others:
                t.join(180)
            assert stuck.status_code == 503, stuck.text[:300]
            assert "taking too long" in stuck.text
            assert 19 < answered - start < 90  # the flag's 20 s, not the variable's 600
            statuses = [(status, head) for *_, status, head in results]
            assert statuses and set(statuses) == {(200, b"%PDF")}, statuses
            # Renders finished while the stuck one was held, and after it was stopped.
            assert any(start < end < answered for _, end, *_ in results)
            assert any(end > answered for _, end, *_ in results)
            again = c.post("/render", data=_form(c))
            assert again.status_code == 200 and again.content.startswith(b"%PDF")
        log = server.text()
        assert "a render ran over 20 seconds; stopping its worker" in log
        assert "unexpectedly" not in log


# -- 2. a real memory limit -------------------------------------------------------------------


def test_a_template_past_the_memory_cap_fails_at_its_line_in_serve(tmp_ws, tmp_path):
    _use_template(tmp_ws, "{% if person.patient == 'Greedy' %}" + BOMB + "{% endif %}")
    with Server(tmp_ws, tmp_path, "--template-max-mb", "1") as server:
        with server.client() as c:
            assert c.post("/render", data=_form(c)).status_code == 200
            workers = _children(server.proc.pid)
            response = c.post("/render", data=_form(c, patient="Greedy"))
            assert response.status_code == 422, response.text[:300]
            assert "the template used too much memory at templates/evil.html:3" in response.text
            assert "1544 MB" in response.text
            ok = c.post("/render", data=_form(c))
            assert ok.status_code == 200 and ok.content.startswith(b"%PDF")
            replaced = workers - _children(server.proc.pid)
            assert len(replaced) == 1 and not _alive(replaced.pop())
        assert "a render ran out of memory; replacing its worker" in server.text()


@pytest.mark.logs_expected  # each failed row is a warning
def test_a_batch_whose_template_passes_the_memory_cap_stops_cleanly(tmp_ws, tmp_path, run):
    (tmp_ws / "templates" / "evil-letter.html").write_text(
        '{% extends "letter.html" %}\n{% block personal_note %}\n' + BOMB + "\n{% endblock %}\n"
    )
    doc = tmp_ws / "handouts" / "followup-letter.yaml"
    doc.write_text(doc.read_text().replace("template: letter.html", "template: evil-letter.html"))
    rows = [
        "A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,,Dr. Sam Rivera,2026-11-20,",
        "A-2,Omar,Haddad,5 Elm St,Springfield,IL,62701,,Dr. Sam Rivera,2026-11-19,",
    ]
    src = write_csv(tmp_path / "r.csv", rows, HEADER)
    out = tmp_path / "out"
    result = run(
        "batch", "followup-letter", str(src), "-o", str(out), "--workers", "2",
        "--letter-date", "2026-11-22", "--template-max-mb", "1", workspace=tmp_ws,
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr
    assert "used too much memory at templates/evil-letter.html:3" in result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert [p.name for p in out.iterdir()] == ["manifest.csv"]  # no letter, no merged file
    assert {r["status"] for r in read_manifest(out)} == {"failed"}


# -- 3. the limits as flags -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,env,named",
    [
        (["serve", "--render-timeout", "-1"], {}, "'--render-timeout'"),
        (["serve", "--max-connections", "2.5"], {}, "'--max-connections'"),
        (["serve"], {"HANDOUTGEN_IDLE_TIMEOUT": "soon"}, "'HANDOUTGEN_IDLE_TIMEOUT'"),
        (["serve"], {"HANDOUTGEN_HEADER_TIMEOUT": "0"}, "'HANDOUTGEN_HEADER_TIMEOUT'"),
        (["render", "neck-surgery", "--template-seconds", "0"], {}, "'--template-seconds'"),
        (["render", "neck-surgery"], {"HANDOUTGEN_TEMPLATE_MAX_MB": "-5"}, "TEMPLATE_MAX_MB'"),
        (["batch", "followup-letter", "r.csv", "--template-max-mb", "x"], {}, "'--template-max"),
    ],
)
def test_a_bad_limit_is_a_usage_error_naming_it(run, monkeypatch, args, env, named):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for" in result.stderr and named in result.stderr


def test_serve_help_documents_every_limit_with_its_variable_and_default(run):
    text = " ".join(run("serve", "--help").stdout.split())
    for flag, env, default in (
        ("--render-timeout", "HANDOUTGEN_RENDER_TIMEOUT", "120"),
        ("--template-seconds", "HANDOUTGEN_TEMPLATE_SECONDS", "30"),
        ("--template-max-mb", "HANDOUTGEN_TEMPLATE_MAX_MB", "64"),
        ("--header-timeout", "HANDOUTGEN_HEADER_TIMEOUT", "10"),
        ("--idle-timeout", "HANDOUTGEN_IDLE_TIMEOUT", "30"),
        ("--max-connections", "HANDOUTGEN_MAX_CONNECTIONS", "32"),
    ):
        assert re.search(rf"{flag} .*?env var: {env}; default: {default}\b", text), flag
    for command in ("render", "batch"):
        text = run(command, "--help").stdout
        assert "--template-seconds" in text and "--template-max-mb" in text


@pytest.mark.parametrize(
    "flags,env,seconds",
    [
        ([], {"HANDOUTGEN_TEMPLATE_SECONDS": "1"}, "1"),
        (["--template-seconds", "1.5"], {"HANDOUTGEN_TEMPLATE_SECONDS": "600"}, "1.5"),
    ],
    ids=["variable", "flag-over-variable"],
)
def test_render_takes_the_template_time_limit_from_its_flag_first(
    tmp_ws, run, monkeypatch, flags, env, seconds
):
    _use_template(tmp_ws, LOOP)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    began = time.monotonic()
    result = run("render", "nonsurgical-options", "-o", str(tmp_ws / "x.pdf"), *flags,
                 workspace=tmp_ws)  # fmt: skip
    assert time.monotonic() - began < 30
    assert result.exit_code == 1
    assert f"the template ran too long at templates/evil.html:3 (over {seconds} seconds" in (
        result.stderr
    )
    assert not (tmp_ws / "x.pdf").exists()


def test_the_limits_have_one_definition():
    """The templates' budget, the pool's timeout and the server's connection
    limits all read core/limits.py; no module keeps a default of its own."""
    from handoutgen.content import templating
    from handoutgen.core import limits

    assert templating.DEFAULT_SECONDS == limits.LIMITS["template_seconds"].default
    src = Path(templating.__file__).parents[1]
    for path in src.rglob("*.py"):
        if path.name == "limits.py":
            continue
        text = path.read_text()
        for limit in limits.LIMITS.values():
            assert f'"{limit.env}"' not in text, f"{path.name} reads {limit.env} itself"
