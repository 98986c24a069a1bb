"""Request security, in the order a request meets it (``_Front``, a plain
ASGI layer): security headers on every response, errors included; the Host
header must name this server (DNS rebinding; ``--allowed-host`` adds names);
the body is capped before anything parses it (413); sign-in is required
whenever the app listens beyond loopback (or a trusted proxy names the user).
Then the endpoints check the CSRF token and the origin (``_same_origin``)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from handoutgen.core.errors import HandoutgenError
from handoutgen.web import auth
from handoutgen.web.pages import _page
from handoutgen.web.state import LOCAL_USER, LOOPBACK, WILDCARD, _State

log = logging.getLogger("handoutgen")

# No inline script anywhere: scripts come only from /static. Styles too.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self' blob:; object-src 'self' blob:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),  # pages may hold patient data
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class _Front:
    """Plain ASGI middleware (so it sees every response and can refuse a body
    before anything parses it)."""

    def __init__(self, app: Any, state: _State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        refresh: list[str] = []

        async def send_secure(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _HEADER_NAMES
                ]
                headers += SECURITY_HEADERS
                if state.config.https:  # browsers then never try plain HTTP here again
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(b"set-cookie", c.encode("latin-1")) for c in refresh]
                message = {**message, "headers": headers}
            await send(message)

        request = Request(scope)
        if _host_name(request.headers.get("host", "")) not in state.allowed_hosts:
            # DNS rebinding: a page on evil.example resolving to this machine.
            # (The names it does answer to are not listed: no need to tell a stranger.)
            await _page(
                "error.html",
                400,
                title="Refused",
                message=(
                    "This server answers only to the address it runs on and the names it "
                    "was given. Open it by the address IT gave you; IT can add this name "
                    "with --allowed-host NAME."
                ),
            )(scope, receive, send_secure)
            return
        # The body, read whole but never past the cap, before any parsing.
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > state.config.max_body):
            await _too_large(state)(scope, receive, send_secure)
            return
        chunks: list[bytes] = []
        size = 0
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            more = True
            while more:
                try:  # a client that stops sending its body is not waited for
                    message = await asyncio.wait_for(receive(), state.config.idle_timeout)
                except TimeoutError:
                    await _page(
                        "error.html",
                        408,
                        title="Too slow",
                        message="The form took too long to arrive. Send it again.",
                    )(scope, receive, send_secure)
                    return
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > state.config.max_body:
                    await _too_large(state)(scope, receive, send_secure)
                    return
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            user = _authenticate(state, request, refresh)
        except HandoutgenError as exc:  # a damaged settings file: say so, loudly
            await _page(
                "error.html",
                503,
                title="The server's settings are damaged",
                message=exc.format_message(),
            )(scope, replay, send_secure)
            return
        scope.setdefault("state", {})["user"] = user
        path = scope["path"]
        if user is None and not (path in ("/login", "/logout") or path.startswith("/static/")):
            page = not path.startswith("/api/") and not (
                path.startswith("/design/") and path.endswith("/pages")
            )
            if scope["method"] == "GET" and page:
                target = "/login?next=" + quote(path, safe="/")
                await RedirectResponse(target, status_code=303)(scope, replay, send_secure)
                return
            await _page(
                "error.html",
                401,
                title="Please sign in",
                message="Your session has ended. Sign in again, then send the form again.",
            )(scope, replay, send_secure)
            return
        await self.app(scope, replay, send_secure)


_HEADER_NAMES = {k for k, _ in SECURITY_HEADERS}


def _add_headers(response: Response) -> None:
    for k, v in SECURITY_HEADERS:
        response.headers[k.decode()] = v.decode()


def _too_large(state: _State) -> Response:
    return _page(
        "error.html",
        413,
        title="Too much to send",
        message=(
            f"The form sent more than {state.config.max_body // 1024} KB, so nothing was "
            "read. Shorten the note and send it again."
        ),
    )


def _authenticate(state: _State, request: Request, refresh: list[str]) -> str | None:
    """Who is asking: a trusted proxy's header, a session cookie, or (on a
    loopback-only server without sign-in) the local user."""
    config = state.config
    if not config.sign_in:
        return LOCAL_USER
    if config.proxy_header:
        value = request.headers.get(config.proxy_header)
        peer = request.client.host if request.client else ""
        if value is not None:
            if _is_trusted(peer, config.trusted_proxies) and auth.NAME_RE.match(value):
                request.scope.setdefault("state", {})["via_proxy"] = True
                return value
            log.warning(
                "ignored %s from an address that is not a trusted proxy", config.proxy_header
            )
    assert state.sessions is not None
    found = state.sessions.session(request.cookies.get(auth.SESSION_COOKIE))
    if found is None:
        return None
    user, sid = found
    if request.url.path != "/logout":
        # Sliding expiry: each request restarts the idle clock.
        refresh.append(_session_cookie(state, state.sessions.issue(user, sid)))
    return user


def _is_trusted(peer: str, proxies: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for proxy in proxies:
        try:
            if address in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def _session_cookie(state: _State, value: str, max_age: int | None = None) -> str:
    parts = [
        f"{auth.SESSION_COOKIE}={value}",
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        f"Max-Age={max_age if max_age is not None else state.config.idle_minutes * 60}",
    ]
    if state.config.https:
        parts.append("Secure")
    return "; ".join(parts)


def _peer(state: _State, request: Request) -> str:
    """The client's address; behind a trusted proxy, the one it forwarded for
    (so one clinician's typos do not lock out everyone behind the proxy)."""
    peer = request.client.host if request.client else "?"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and _is_trusted(peer, state.config.trusted_proxies):
        return forwarded.rsplit(",", 1)[-1].strip()[:64] or peer
    return peer


def _client_key(request: Request) -> str:
    user = request.scope.get("state", {}).get("user")
    if user and user != LOCAL_USER:
        return "user:" + user
    return "ip:" + (request.client.host if request.client else "?")


def _same_origin(request: Request) -> bool:
    """Refuse requests a browser marks as coming from another site (defence in
    depth beside the token: SameSite cookies already keep them out)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = urlsplit(origin).netloc.lower()
        if host != request.headers.get("host", "").lower():
            return False
    return True


# -- hosts and addresses ----------------------------------------------------------------


def allowed_host_names(host: str, extra: tuple[str, ...] = ()) -> set[str]:
    """The Host header names this server answers to."""
    allowed = {_host_name(host)} | {_host_name(h) for h in extra}
    if host in LOOPBACK or host in WILDCARD:
        allowed |= set(LOOPBACK)
    if host in WILDCARD:
        allowed |= machine_names()
    if ":" in host and not host.startswith("["):
        allowed.add(f"[{host.lower()}]")
    return {a for a in allowed if a}


def machine_names() -> set[str]:
    """This machine's names and addresses (every interface), as Host headers carry them."""
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    addresses: set[str] = set()
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (socket.AF_INET, socket.AF_INET6):
                    addresses.add(a.address.split("%")[0])
    except Exception:  # noqa: BLE001 - fall back to what the resolver knows
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            addresses.add(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    for a in addresses:
        names.add(f"[{a.lower()}]" if ":" in a else a)
    return {n for n in names if n}


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8765
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header
