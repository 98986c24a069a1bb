"""Where things live: a workspace's folders layered over the packaged defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import ContentError

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Workspace:
    """A folder with ``handouts/`` and, optionally, ``templates/`` and ``styles/``.

    Templates and styles are looked up in the workspace first, then in the
    packaged defaults, so a clinic overrides one file without copying the rest.
    """

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str] = ".") -> Workspace:
        root = Path(path).resolve()
        if not root.is_dir():
            raise ContentError(f"workspace {path} is not a folder")
        if not (root / "handouts").is_dir():
            raise ContentError(
                f"no handouts/ folder in {display_path(root)}: run handoutgen in a "
                "workspace or pass --workspace DIR"
            )
        return cls(root)

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

    def find_style(self, name: str) -> Path | None:
        for folder in self.style_dirs:
            candidate = folder / name
            if candidate.is_file():
                return candidate
        return None

    def looked_in(self, dirs: list[Path]) -> str:
        return ", ".join(display_path(d) for d in dirs)

    def display(self, path: Path) -> str:
        return display_path(path)


def display_path(path: Path) -> str:
    """A path as a user would type it: relative to the current folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel
