"""The session's FHIR R4 server for the EHR tests (tests/ehr, tests/mailing).

The server is SEKMET (sekmet-fhir, a test extra), started once per session as
a subprocess on a free loopback port, with SMART backend-services clients: the
token handoutgen gets is a real access token that the server checks on every
request, and its scopes decide what may be read and written.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

SECRET = "handoutgen-test-secret"


@dataclass
class Server:
    base: str
    root: str

    def token(self, client: str = "handoutgen", scope: str = "system/*.*") -> str:
        """A SMART backend-services access token (client_credentials, client_secret_basic)."""
        answer = httpx.post(
            f"{self.root}/auth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(client, SECRET),
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}", "Accept": "application/fhir+json"}

    def create(self, resource: dict) -> str:
        answer = httpx.post(
            f"{self.base}/{resource['resourceType']}", json=resource, headers=self._headers()
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def search(self, rtype: str, **params: str) -> list[dict]:
        answer = httpx.get(f"{self.base}/{rtype}", params=params, headers=self._headers())
        assert answer.status_code == 200, answer.text
        return [
            e["resource"] for e in answer.json().get("entry", []) if e["search"]["mode"] == "match"
        ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory) -> Iterator[Server]:
    pytest.importorskip(
        "sekmet", reason="the FHIR test server is not installed (pip install sekmet-fhir==0.1.1)"
    )
    folder = tmp_path_factory.mktemp("sekmet")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    config = folder / "settings.yaml"
    config.write_text(
        f"""
base_url: {base}
host: 127.0.0.1
port: {port}
data_dir: {folder / "data"}
own_private_key_path: {folder / "no-key.pem"}
simulator: {{enabled: false}}
validation: {{inbound: strict}}
server_auth:
  types: [smart]
  smart_clients:
    - {{client_id: handoutgen, client_secret: {SECRET}, scopes: "system/*.*"}}
    - {{client_id: reader, client_secret: {SECRET}, scopes: "system/*.read"}}
""",
        encoding="utf-8",
    )
    (folder / "data").mkdir()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - open while the server runs
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sekmet.main:app_factory", "--factory"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "SEKMET_CONFIG": str(config)},
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"the FHIR test server did not start:\n{(folder / 'server.log').read_text()}"
                )
            time.sleep(0.2)
        yield Server(base=base, root=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def patient(name: list[dict] | None = None, languages: list[tuple[str, bool]] = ()) -> dict:
    resource: dict = {"resourceType": "Patient", "gender": "female", "birthDate": "1961-04-02"}
    if name is not None:
        resource["name"] = name
    if languages:
        resource["communication"] = [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": code}]},
                **({"preferred": True} if preferred else {}),
            }
            for code, preferred in languages
        ]
    return resource
