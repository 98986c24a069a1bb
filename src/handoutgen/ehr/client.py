"""A small FHIR R4 REST client: reads, searches, a transaction or conditional
creates, every failure a clear EhrError.

The token comes from the environment (HANDOUTGEN_FHIR_TOKEN) and lives only in
memory: it is never logged, written to a file or cache, or put in a message.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from handoutgen.content.workspace import Workspace
from handoutgen.core.errors import HandoutgenError, Unavailable
from handoutgen.store import private

TOKEN_ENV = "HANDOUTGEN_FHIR_TOKEN"
FHIR_JSON = "application/fhir+json"
TIMEOUT = 30.0


class EhrError(HandoutgenError):
    """The EHR could not be read or written: unreachable, refused, or a record
    handoutgen cannot use."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the server's HTTP status; None: no answer


class EhrUnavailable(EhrError, Unavailable):
    """No request to this server can succeed now: it is unreachable, or it
    refuses the token (401, 403), or it redirects. A batch stops at the first."""


@dataclass(frozen=True)
class FhirSettings:
    """Where the EHR's FHIR API is and who handoutgen is to it."""

    base_url: str
    client_id: str | None = None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def resolve(
        cls, workspace: Workspace | None, server: str | None, client_id: str | None
    ) -> FhirSettings:
        """Flags first, then ``fhir:`` in the workspace's private settings
        (``{"fhir": {"server": URL, "client_id": ID}}``); the token from the
        environment only."""
        saved: dict[str, Any] = {}
        if workspace is not None:
            value = private.load(workspace).get("fhir") or {}
            saved = value if isinstance(value, dict) else {}
        base = server or saved.get("server")
        if not isinstance(base, str) or not base.strip():
            raise EhrError(
                "no FHIR server: pass --fhir-server URL (the EHR's FHIR R4 base URL) or set "
                '"fhir": {"server": URL} in the workspace\'s .handoutgen/settings.json'
            )
        cid = client_id or saved.get("client_id")
        return cls(
            base_url=check_base_url(base),
            client_id=cid if isinstance(cid, str) and cid else None,
            token=os.environ.get(TOKEN_ENV) or None,
        )


def check_base_url(url: str) -> str:
    """The base URL without a trailing slash. Plain http only on this machine:
    a bearer token and a patient's record never cross a network unencrypted."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EhrError(f"--fhir-server {url}: not an http(s) URL like https://ehr.example/fhir")
    if parts.username or parts.password:
        raise EhrError(
            "--fhir-server: put no credentials in the URL; the token goes in " + TOKEN_ENV
        )
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise EhrError(
            f"--fhir-server {url}: plain http is allowed only on this machine (localhost); "
            "use https so the token and the record are encrypted"
        )
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FhirClient:
    """JSON over HTTP(S) to one FHIR server; ``with FhirClient(...) as c:``."""

    def __init__(self, settings: FhirSettings, *, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        headers = {"Accept": FHIR_JSON, "User-Agent": "handoutgen"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        self._http = httpx.Client(
            base_url=settings.base_url + "/",
            headers=headers,
            timeout=TIMEOUT,
            follow_redirects=False,  # a redirect would carry the token somewhere else
            transport=transport,
        )
        self._asked = False  # the CapabilityStatement, once per client
        self._transactions: bool | None = None

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def read(self, rtype: str, rid: str) -> dict[str, Any]:
        """``GET [base]/rtype/rid`` as a resource of that type."""
        what = f"{rtype}/{rid}"
        body = self._send("GET", f"{rtype}/{quote(rid, safe='')}", what=f"read {what}")
        if body.get("resourceType") != rtype:
            raise EhrError(
                f"the FHIR server answered read {what} with a {body.get('resourceType')!r}, "
                f"not a {rtype}"
            )
        return body

    def search(self, rtype: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """The matches of one search (first page)."""
        body = self._send("GET", rtype, params=params, what=f"search {rtype}")
        return [
            e["resource"]
            for e in body.get("entry") or []
            if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and (e.get("search") or {}).get("mode", "match") == "match"
        ]

    def transaction(self, bundle: dict[str, Any], what: str) -> dict[str, Any]:
        """POST a transaction Bundle: all of it is written, or none of it."""
        body = self._send("POST", "", json_body=bundle, what=what)
        if body.get("resourceType") != "Bundle" or body.get("type") != "transaction-response":
            raise EhrError(f"the FHIR server answered {what} with no transaction-response Bundle")
        return body

    def create(self, resource: dict[str, Any], if_none_exist: str, what: str) -> tuple[str, bool]:
        """Conditional create (``If-None-Exist``): ``Type/id`` of the new resource,
        or of the one already matching, and whether it was created."""
        rtype = resource["resourceType"]
        response = self._request(
            "POST",
            rtype,
            what=what,
            json_body=resource,
            headers={"If-None-Exist": if_none_exist, "Prefer": "return=representation"},
        )
        body = self._json(response, what) if response.content else {}
        if body.get("resourceType") == rtype and body.get("id"):
            return f"{rtype}/{body['id']}", response.status_code == 201
        location = response.headers.get("Location") or response.headers.get("Content-Location")
        if location:
            parts = location.split("/_history")[0].rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] == rtype:
                return f"{rtype}/{parts[-1]}", response.status_code == 201
        # A server may answer a create that matched with 200 and nothing more.
        found = self.search(rtype, dict(parse_qsl(if_none_exist)))
        if len(found) == 1 and found[0].get("id"):
            return f"{rtype}/{found[0]['id']}", response.status_code == 201
        raise EhrError(f"the FHIR server answered {what} without saying which {rtype} it holds")

    def supports_transaction(self) -> bool | None:
        """What the CapabilityStatement says (``rest.interaction`` of the server
        part); None when it says nothing usable. Asked once per client."""
        if not self._asked:
            self._transactions = _says_transaction(self._capabilities())
            self._asked = True
        return self._transactions

    def check(self) -> None:
        """Reach the server (its CapabilityStatement) before any work: an
        unreachable server is an EhrUnavailable here, once."""
        self.supports_transaction()

    def _capabilities(self) -> dict[str, Any] | None:
        try:
            return self._send("GET", "metadata", what="read the CapabilityStatement (metadata)")
        except EhrUnavailable as exc:
            if exc.status is None:
                raise  # unreachable: nothing else would work either
            return None  # refused: the requests that need the token will say so
        except EhrError:
            return None

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = self._request(method, path, what=what, params=params, json_body=json_body)
        return self._json(response, what)

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        base = self.settings.base_url
        if json_body is not None:
            headers = {"Content-Type": FHIR_JSON, **(headers or {})}
        try:
            response = self._http.request(
                method, path, params=params, json=json_body, headers=headers
            )
        except httpx.TimeoutException:
            raise EhrUnavailable(
                f"the FHIR server at {base} did not answer {what} within {TIMEOUT:.0f} s"
            ) from None
        except httpx.HTTPError as exc:
            raise EhrUnavailable(
                f"cannot reach the FHIR server at {base} ({type(exc).__name__}: "
                f"{self._scrub(str(exc))}); check --fhir-server and the network"
            ) from None
        code = response.status_code
        if code >= 300:
            error = EhrUnavailable if code in (401, 403) or code < 400 else EhrError
            raise error(self._refusal(response, what), status=code)
        return response

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        base = self.settings.base_url
        try:
            body = response.json()
        except ValueError:
            raise EhrError(f"the FHIR server at {base} answered {what} with no JSON") from None
        if not isinstance(body, dict):
            raise EhrError(f"the FHIR server at {base} answered {what} with no FHIR resource")
        return body

    def _refusal(self, response: httpx.Response, what: str) -> str:
        base, code = self.settings.base_url, response.status_code
        client = f" for client '{self.settings.client_id}'" if self.settings.client_id else ""
        if code == 401:
            if not self.settings.token:
                return (
                    f"the FHIR server at {base} wants a token ({what}: 401): set {TOKEN_ENV} "
                    f"to an access token{client}"
                )
            return (
                f"the FHIR server at {base} refused the token ({what}: 401): it is wrong or "
                f"expired; set {TOKEN_ENV} to a current access token{client}"
            )
        if code == 403:
            return (
                f"the FHIR server at {base} does not allow {what} with this token (403): the "
                f"app's registration{client} needs the scopes in README (FHIR write-back)"
                + self._diagnostics(response)
            )
        if code == 404 and what.startswith("read "):
            return f"the FHIR server at {base} has no {what.removeprefix('read ')} (404)"
        if 300 <= code < 400:
            return (
                f"the FHIR server at {base} redirected {what} ({code}); give the final "
                "address as --fhir-server (a redirect is not followed with the token)"
            )
        return f"the FHIR server at {base} failed {what} ({code})" + self._diagnostics(response)

    def _diagnostics(self, response: httpx.Response) -> str:
        """What an OperationOutcome says, briefly."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
            return ""
        said = [
            str(i.get("diagnostics") or (i.get("details") or {}).get("text") or "")
            for i in body.get("issue") or []
            if isinstance(i, dict)
        ]
        text = "; ".join(s for s in said if s)[:500]
        return f": {self._scrub(text)}" if text else ""

    def _scrub(self, text: str) -> str:
        token = self.settings.token
        return text.replace(token, "***") if token else text


def _says_transaction(statement: dict[str, Any] | None) -> bool | None:
    if not statement or statement.get("resourceType") != "CapabilityStatement":
        return None
    servers = [
        r for r in statement.get("rest") or [] if isinstance(r, dict) and r.get("mode") == "server"
    ]
    if not servers or not any(isinstance(r.get("interaction"), list) for r in servers):
        return None
    return any(
        isinstance(i, dict) and i.get("code") == "transaction"
        for r in servers
        for i in r.get("interaction") or []
    )
