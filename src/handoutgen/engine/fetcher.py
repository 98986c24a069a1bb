"""A WeasyPrint URL fetcher that reads only content: the workspace's asset
folders and declared images, and the package's files.

Templates and content are reviewed, but a workspace may come from anywhere: a
template that links ``/etc/passwd``, the private settings (whose key signs
anyone in) or a recipient list as an image or stylesheet must fail with a
clear error instead of quietly putting that file into a patient's PDF.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """Allow ``data:`` URLs, files under ``roots`` that ``refused`` (a path ->
    reason, "" to allow) does not refuse; ``http(s)`` only if enabled."""

    def __init__(
        self,
        roots: list[Path],
        *,
        allow_http: bool = False,
        refused: Callable[[Path], str] | None = None,
    ):
        super().__init__(timeout=10, allow_redirects=False)
        self.roots = [r.resolve() for r in roots]
        self.allow_http = allow_http
        self.refused = refused
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
            why = self.refused(path) if self.refused else ""
            if why:
                # Named as the template wrote it (relative), never as an absolute path.
                raise RefusedURL(_shown(path, self.roots), why)
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


def _shown(path: Path, roots: list[Path]) -> str:
    """``path`` relative to the first root it lies under (the workspace)."""
    for root in roots:
        if path.is_relative_to(root):
            return f"'{path.relative_to(root).as_posix()}'"
    return "a local file"
