"""Where things live: a workspace's folders layered over the packaged defaults.

Every file a workspace names (templates, styles, images, logos, brands, YAML)
is found through one confined resolver: a name must be relative, may not go up
with ``..``, and the file it leads to, after following symlinks, must lie
inside the workspace or the package. Content and templates come from authors,
not from the operator, and must not be able to reach ``/etc/passwd``.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath, PureWindowsPath

from handoutgen.content.fonts import font_dir
from handoutgen.core.errors import ContentError

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The package, and the default templates and styles wherever they really are:
# inside an installed package, or the checkout's top-level templates/ and
# styles/ that the package's folders link to.
PACKAGE_ROOTS = tuple(
    dict.fromkeys(
        [PACKAGE_DIR, (PACKAGE_DIR / "templates").resolve(), (PACKAGE_DIR / "styles").resolve()]
    )
)


# What a template may read from a workspace (besides the files its documents
# and clinic profiles name): see Workspace.reach_refused.
ASSET_FOLDERS = ("assets", "images", "fonts", "templates", "styles")
RECIPIENT_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".json", ".sqlite")
PRIVATE_FOLDER = ".handoutgen"  # store/private.py keeps settings there


@dataclass(frozen=True)
class Workspace:
    """A folder with ``handouts/`` and, optionally, ``templates/`` and ``styles/``.

    Templates and styles are looked up in the workspace first, then in the
    packaged defaults, so a clinic overrides one file without copying the rest.
    """

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str] = ".") -> Workspace:
        """The workspace at ``path`` or, like git, in the nearest folder above it
        that has a handouts/ folder (so handoutgen works from handouts/options/)."""
        start = Path(path).resolve()
        if not start.is_dir():
            raise ContentError(f"workspace {path} is not a folder")
        for root in (start, *start.parents):
            if (root / "handouts").is_dir():
                return cls(root)
        raise ContentError(
            f"no handouts/ folder in {display_path(start)} or any folder above it: run "
            "handoutgen in a workspace, pass --workspace DIR, or start one with "
            "`handoutgen init DIR`"
        )

    @property
    def handouts_dir(self) -> Path:
        return self.root / "handouts"

    @property
    def assets_dir(self) -> Path:
        """Images and logos."""
        return self.root / "assets"

    @property
    def options_dir(self) -> Path:
        return self.handouts_dir / "options"

    @cached_property
    def template_dirs(self) -> list[Path]:
        return [self.root / "templates", PACKAGE_DIR / "templates"]

    @cached_property
    def style_dirs(self) -> list[Path]:
        return [self.root / "styles", PACKAGE_DIR / "styles"]

    @property
    def locale_dirs(self) -> list[Path]:
        """Template string catalogs: the workspace's own, then the package's."""
        return [self.root / "locale", PACKAGE_DIR / "locale"]

    def content_folders(self) -> list[Path]:
        """The content manifest: every folder whose files a rendered page can
        depend on, besides the personal data. The content hash, ``serve``'s
        reload and ``preview --watch`` all read this one list."""
        folders = [
            self.handouts_dir,  # options, documents, brands, translations, notices
            *self.template_dirs,
            *self.style_dirs,
            self.assets_dir,
            *self.locale_dirs,
        ]
        return [f for f in dict.fromkeys(folders) if f.is_dir()]

    def content_files(self) -> list[Path]:
        """Every file in :meth:`content_folders`, sorted; a file that leads
        outside the workspace and the package (a symlink) is never read."""
        found: set[Path] = set()
        for folder in self.content_folders():
            for path in folder.rglob("*"):
                if "__pycache__" in path.parts or not self.confined(path):
                    continue
                with suppress(OSError):
                    if path.is_file():
                        found.add(path)
        return sorted(found)

    def content_stamp(self) -> tuple[tuple[str, int, int], ...]:
        """A cheap fingerprint of the content files (path, size, mtime): it
        changes when any of them is added, removed or edited."""
        entries = []
        for path in self.content_files():
            with suppress(OSError):
                st = path.stat()
                entries.append((str(path), st.st_size, st.st_mtime_ns))
        return tuple(entries)

    @cached_property
    def roots(self) -> tuple[Path, ...]:
        """Where a workspace file may lead after symlinks are followed."""
        return (self.root.resolve(), *PACKAGE_ROOTS)

    def confined(self, path: Path) -> bool:
        """Whether ``path`` (symlinks followed) lies inside the workspace or the package."""
        return inside(path, self.roots)

    def find(self, dirs: list[Path], name: str, what: str) -> Path | None:
        """The first ``dir/name`` that is a file, or None. A name that is absolute,
        goes up with ``..`` or leads outside (a symlink) raises :class:`PathRefused`;
        the message never repeats the name, which may be a hostile path."""
        reason = refused_name(name)
        if reason:
            raise PathRefused(f"{what} {reason}")
        for folder in dirs:
            candidate = folder / name
            if not (candidate.exists() or candidate.is_symlink()):
                continue
            if not self.confined(candidate):
                raise PathRefused(
                    f"{what} leads outside the workspace (through a symlink); only files "
                    "inside the workspace or the package may be used"
                )
            if candidate.is_file():
                return candidate.resolve()
        return None

    def find_style(self, name: str) -> Path | None:
        return self.find(self.style_dirs, name, "stylesheet path")

    def find_template(self, name: str) -> Path | None:
        return self.find(self.template_dirs, name, "template path")

    def find_asset(self, name: str) -> Path | None:
        """An image or logo, named relative to the workspace."""
        return self.find([self.root], name, "file path")

    def reach_refused(self, path: Path, declared: frozenset[Path] = frozenset()) -> str:
        """Why a template (its asset(), an image, a stylesheet's url()) may not
        read ``path`` ("" if it may). Templates see content only: the declared
        asset folders (``ASSET_FOLDERS``), the ``declared`` files (the images the
        documents list, the clinic logos) and the package; never the private
        settings, the cache, output, recipient lists, dotfiles or anything
        outside. Symlinks are followed before judging."""
        try:
            real = Path(os.path.realpath(path))
        except (OSError, ValueError):
            return "it cannot be read"
        for private in self.private_dirs():
            if real == private or real.is_relative_to(private):
                return "it is in a private folder (settings, sign-in key, audit log or cache)"
        if real.suffix.lower() in RECIPIENT_SUFFIXES:
            return "it is a recipient list or spreadsheet (patient data)"
        if any(real.is_relative_to(r) for r in (*PACKAGE_ROOTS, font_dir().resolve())):
            return ""
        root = self.root.resolve()
        if not real.is_relative_to(root):
            return "it lies outside the workspace; only files under it may be used"
        parts = real.relative_to(root).parts
        if any(part.startswith(".") for part in parts):
            return "it is a hidden file or folder"
        if parts and parts[0] == "output":
            return "it is in output/, where rendered handouts go"
        if (parts and parts[0] in ASSET_FOLDERS and len(parts) > 1) or real in declared:
            return ""
        return (
            f"it is not in an asset folder ({', '.join(f + '/' for f in ASSET_FOLDERS)}) "
            "nor an image a document or clinic profile names; move it to assets/"
        )

    def private_dirs(self) -> list[Path]:
        """Folders no template may read: the private settings and the cache."""
        out = [self.root / PRIVATE_FOLDER]
        for name in ("HANDOUTGEN_PRIVATE_DIR", "HANDOUTGEN_CACHE_DIR"):
            value = os.environ.get(name, "").strip()
            if value and value.lower() not in ("off", "0", "none"):
                out.append(Path(value))
        return [Path(os.path.realpath(p)) for p in out]

    def looked_in(self, dirs: list[Path]) -> str:
        return ", ".join(display_path(d) for d in dirs)

    def display(self, path: Path) -> str:
        return display_path(path)


class PathRefused(ContentError):
    """A content or template path that is absolute, uses ``..`` or leads outside."""


def refused_name(name: str) -> str:
    """Why a file name from content or a template may not be used ("" if it may)."""
    if not isinstance(name, str):
        return "is not text"
    if not name.strip():
        return "is empty"
    if "\0" in name or "\\" in name:
        return "has a backslash or NUL in it; use forward slashes"
    if name.startswith("/") or PureWindowsPath(name).drive or PureWindowsPath(name).root:
        return "is an absolute path; name a file relative to its folder"
    if name.startswith("~") or ":" in PurePosixPath(name).parts[0]:
        return "is not a plain relative path; name a file relative to its folder"
    if ".." in PurePosixPath(name).parts:
        return "goes up with '..'; name a file inside the workspace"
    return ""


def inside(path: Path, roots: tuple[Path, ...]) -> bool:
    """Whether ``path``, once every symlink is followed, lies under one of ``roots``."""
    try:
        real = Path(os.path.realpath(path))
    except (OSError, ValueError):
        return False
    return any(real == root or real.is_relative_to(root) for root in roots)


def display_path(path: Path) -> str:
    """A path as a user would type it: relative to the current folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel
