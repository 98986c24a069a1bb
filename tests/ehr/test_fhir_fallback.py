"""A server without transactions: the write-back falls back to two conditional
creates, and a retry still adds nothing.

The stand-in is a small proxy on loopback in front of the session's real
server (tests/fhirserver.py) that refuses transaction Bundles, or whose
CapabilityStatement lists no transaction; everything else passes through.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from conftest import ROOT
from fhirserver import Server, patient

PASSED = ("authorization", "content-type", "accept", "if-none-exist", "prefer")


@dataclass
class Proxy:
    base: str
    mode: str  # "refuse": 405 to a Bundle; "no-transaction": the CapabilityStatement lists none
    seen: list[str] = field(default_factory=list)  # "POST /fhir", "POST /fhir/Procedure", ...
    fail_once: set[str] = field(default_factory=set)  # paths answered 500 the first time


def _handler(proxy: Proxy, upstream: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self, method: str) -> None:
            path = self.path.split("?")[0].rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if method == "POST":
                proxy.seen.append(f"POST {path}")
            if method == "POST" and path == "/fhir":
                outcome = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "not-supported", "diagnostics": "no"}],
                }
                status = 405 if proxy.mode == "refuse" else 501
                self._send(
                    status, json.dumps(outcome).encode(), {"Content-Type": "application/fhir+json"}
                )
                return
            if method == "POST" and path in proxy.fail_once:
                proxy.fail_once.discard(path)
                self._send(500, b"{}", {"Content-Type": "application/fhir+json"})
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() in PASSED}
            answer = httpx.request(
                method, upstream + self.path.removeprefix("/fhir"), headers=headers, content=body
            )
            data = answer.content
            if path == "/fhir/metadata" and proxy.mode == "no-transaction":
                statement = answer.json()
                for rest in statement["rest"]:
                    rest["interaction"] = [
                        i for i in rest.get("interaction", []) if i["code"] != "transaction"
                    ]
                data = json.dumps(statement).encode()
            kept = {
                k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "location")
            }
            self._send(answer.status_code, data, kept)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._forward("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._forward("POST")

    return Handler


@pytest.fixture(params=["refuse", "no-transaction"])
def proxy(request, fhir_server: Server, monkeypatch, tmp_path) -> Iterator[Proxy]:
    monkeypatch.setenv("HANDOUTGEN_FHIR_TOKEN", fhir_server.token())
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Proxy(f"http://127.0.0.1:{server.server_address[1]}/fhir", request.param)
    server.RequestHandlerClass = _handler(found, fhir_server.base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def render(run, proxy: Proxy, pid: str, out: Path):
    return run(
        "render",
        "neck-surgery",
        "--fhir-server",
        proxy.base,
        "--fhir-patient",
        pid,
        "--write-back",
        "-o",
        str(out),
        "-v",
        workspace=ROOT,
    )


def test_no_transactions_two_conditional_creates_and_a_retry_adds_nothing(
    proxy, fhir_server, run, tmp_path
):
    pid = fhir_server.create(patient([{"use": "official", "given": ["Ana"], "family": "Li"}]))
    out = tmp_path / "x.pdf"
    result = render(run, proxy, pid, out)
    assert result.exit_code == 0, result.stderr
    # Refused: the Bundle was tried once; listed as unsupported: never sent.
    bundles = 1 if proxy.mode == "refuse" else 0
    assert proxy.seen == ["POST /fhir"] * bundles + [
        "POST /fhir/DocumentReference",
        "POST /fhir/Procedure",
    ]
    [docref] = fhir_server.search("DocumentReference", patient=pid)
    [procedure] = fhir_server.search("Procedure", patient=pid)
    assert procedure["report"] == [{"reference": f"DocumentReference/{docref['id']}"}]
    assert procedure["code"]["coding"][0]["code"] == "311401005"
    assert "Stored: DocumentReference/" in result.stderr

    again = render(run, proxy, pid, out)
    assert again.exit_code == 0, again.stderr
    assert "Already stored (nothing added)" in again.stderr
    assert len(fhir_server.search("DocumentReference", patient=pid)) == 1
    assert len(fhir_server.search("Procedure", patient=pid)) == 1


def test_a_failure_between_the_two_creates_is_finished_by_the_retry(
    proxy, fhir_server, run, tmp_path
):
    """The DocumentReference is stored, the Procedure fails: the PDF is kept
    and the retry finds the DocumentReference and adds only the Procedure."""
    pid = fhir_server.create(patient([{"use": "official", "given": ["Ana"], "family": "Li"}]))
    proxy.fail_once.add("/fhir/Procedure")
    out = tmp_path / "x.pdf"
    result = render(run, proxy, pid, out)
    assert result.exit_code == 1
    assert (
        "failed the write-back (Procedure; the DocumentReference is stored) (500)" in result.stderr
    )
    assert "The PDF is kept at" in result.stderr and out.stat().st_mode & 0o777 == 0o600
    assert len(fhir_server.search("DocumentReference", patient=pid)) == 1
    assert fhir_server.search("Procedure", patient=pid) == []

    again = render(run, proxy, pid, out)
    assert again.exit_code == 0, again.stderr
    [docref] = fhir_server.search("DocumentReference", patient=pid)
    [procedure] = fhir_server.search("Procedure", patient=pid)
    assert procedure["report"] == [{"reference": f"DocumentReference/{docref['id']}"}]


def test_the_capability_statement_is_read_as_fhir_says():
    from handoutgen.ehr.client import _says_transaction

    def statement(*codes: str) -> dict:
        interactions = [{"code": c} for c in codes]
        return {
            "resourceType": "CapabilityStatement",
            "rest": [{"mode": "server", "interaction": interactions}],
        }

    assert _says_transaction(statement("transaction", "batch")) is True
    assert _says_transaction(statement("batch")) is False
    assert (
        _says_transaction({"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]})
        is None
    )
    assert _says_transaction(None) is None
