"""A WeasyPrint URL fetcher that reads only the workspace's and the package's files.

Templates and content are reviewed, but a workspace may come from anywhere: a
template that links ``/etc/passwd`` as an image or stylesheet must fail with a
clear error instead of quietly putting that file into a patient's PDF.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from handoutgen.engine.svgtext import fix_svg

_ALWAYS = {"data"}
_HTTP = {"http", "https"}


class RefusedURL(FatalURLFetchingError):
    """Raised inside WeasyPrint to stop the render; turned into a RenderError by us."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class SafeURLFetcher(URLFetcher):
    """Allow ``data:`` URLs and files under ``roots``; ``http(s)`` only if enabled."""

    def __init__(self, roots: list[Path], *, allow_http: bool = False):
        super().__init__(timeout=10, allow_redirects=False)
        self.roots = [r.resolve() for r in roots]
        self.allow_http = allow_http
        self.fetched: list[str] = []

    def fetch(self, url: str, headers=None):  # noqa: ANN001, ANN201 - WeasyPrint's signature
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path)).resolve()
            if not any(path.is_relative_to(root) for root in self.roots):
                # The path is not repeated: it names what a hostile file reached for.
                raise RefusedURL(
                    "a local file", "it lies outside the workspace; only files under it may be used"
                )
            if not path.is_file():
                # A missing file is the author's mistake, not an attack: WeasyPrint
                # logs a warning and goes on (``--strict`` makes it fatal).
                raise FileNotFoundError(f"no such file: {path}")
            self.fetched.append(url)
            body = path.read_bytes()
            if path.suffix.lower() == ".svg":
                body = fix_svg(body)  # right-to-left labels, as WeasyPrint draws them
            return URLFetcherResponse(url, body=body)
        if scheme in _ALWAYS:
            return super().fetch(url, headers)
        if scheme in _HTTP:
            if not self.allow_http:
                raise RefusedURL(
                    url,
                    "network access is off (`handoutgen render --allow-http` turns it on for one render)",
                )
            self.fetched.append(url)
            return super().fetch(url, headers)
        raise RefusedURL(url, f"the '{scheme or 'empty'}' scheme is not allowed")
