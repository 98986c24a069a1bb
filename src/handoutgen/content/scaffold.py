"""``handoutgen init``: a new workspace that validates and renders on the first try.

The starting content is real, reviewed content (a handout, its options and a
sample brand) plus commented starting points for designers and a README for
the content team. Every YAML file's first line points editors at the JSON
Schema written into ``schemas/``.
"""

from __future__ import annotations

from pathlib import Path

from handoutgen.content.schema import FOLDER, MODELS, file_name, kind_of, modeline, schema_text
from handoutgen.content.workspace import PACKAGE_DIR, display_path
from handoutgen.core.errors import ContentError

STARTER = PACKAGE_DIR / "starter"
DOCUMENT = "neck-surgery"
# The starter handout uses the workspace's own template, stylesheet and brand,
# so a designer sees an edit to either at once.
_WIRING = (
    "template: handout.html\n",
    "template: my-handout.html\nbrand: example-clinic\nstyles:\n  - clinic.css\n",
)


def starter_files() -> dict[str, str]:
    """Relative path -> text of every file of a new workspace."""
    files: dict[str, str] = {}
    for path in sorted(STARTER.rglob("*")):
        if path.is_dir() or path.name.startswith(".") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(STARTER).as_posix()
        files[rel] = path.read_text(encoding="utf-8")
    doc = f"handouts/{DOCUMENT}.yaml"
    if _WIRING[0] not in files[doc]:  # pragma: no cover - caught by the init test
        raise ContentError(f"the starter {doc} has no '{_WIRING[0].strip()}' line to wire")
    files[doc] = files[doc].replace(_WIRING[0], _WIRING[1], 1)
    for kind in MODELS:
        files[f"{FOLDER}/{file_name(kind)}"] = schema_text(kind)
    return files


def add_modelines(files: dict[str, str], root: Path) -> dict[str, str]:
    """Put each YAML file's schema line first (once)."""
    out = {}
    for rel, text in files.items():
        kind = kind_of(root / rel, root / "handouts") if rel.endswith(".yaml") else None
        if kind and not text.startswith("# yaml-language-server:"):
            text = modeline(root / rel, root, kind) + text
        out[rel] = text
    return out


def init_workspace(target: Path) -> list[Path]:
    """Create the workspace in ``target`` (made if missing). Nothing is written
    if any file it would write is already there: an existing workspace is never
    overwritten."""
    root = target.resolve()
    if root.exists() and not root.is_dir():
        raise ContentError(f"{display_path(root)} is a file, not a folder")
    if (root / "handouts").exists() or (root / "handouts").is_symlink():
        # Sample content added beside a clinic's real documents would reach
        # its web form and its mailings.
        raise ContentError(
            f"{display_path(root)} is already a workspace (it has handouts/); nothing was "
            "written. Pick an empty or new folder (handoutgen init NEW-FOLDER)"
        )
    files = add_modelines(starter_files(), root)
    _refuse_symlinks(root, [*files, ".gitignore"])
    clashes = [rel for rel in files if (root / rel).exists() or (root / rel).is_symlink()]
    if clashes:
        shown = ", ".join(clashes[:5]) + (
            f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        )
        raise ContentError(
            f"{display_path(root)} already has {shown}; nothing was written. Pick an empty "
            "or new folder (handoutgen init NEW-FOLDER)"
        )
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as fh:  # "x": never replace a file
            fh.write(text)
        written.append(path)
    written.append(_ignore_private(root))
    return written


def _ignore_private(root: Path) -> Path:
    """Private settings and rendered handouts (patient names) stay out of git:
    a .gitignore that says so, or those lines added to the one already there."""
    path = root / ".gitignore"
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = None
    if old is None:
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(GITIGNORE)
    else:
        have = {line.strip() for line in old.splitlines()}
        missing = [e for e in (".handoutgen/", "output/") if e not in have]
        if missing:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(
                    ("" if old.endswith("\n") or not old else "\n")
                    + GITIGNORE.split("\n.handoutgen/")[0]
                    + "\n"
                    + "\n".join(missing)
                    + "\n"
                )
    return path


GITIGNORE = """\
# handoutgen: the private settings (users, sign-in key, audit log) and
# rendered handouts (patients' names) never go into version control.
.handoutgen/
output/
"""


def _refuse_symlinks(root: Path, files: dict[str, str] | list[str]) -> None:
    """Refuse to write through a symlink: a folder (or file) in the workspace
    that links elsewhere would put the files there (/etc, another workspace)."""
    for rel in files:
        current = root
        for part in Path(rel).parts:
            current = current / part
            if current.is_symlink():
                raise ContentError(
                    f"{display_path(current)} is a symbolic link; nothing was written. "
                    "handoutgen writes only into real folders: replace the link with a "
                    "folder, or pick another folder"
                )


def write_schemas(root: Path) -> list[Path]:
    """(Re)write the workspace's schemas/ from the models (``handoutgen schema``).
    Each file is replaced whole (written beside it, then renamed)."""
    import os
    import tempfile

    out = []
    _refuse_symlinks(root, [f"{FOLDER}/{file_name(kind)}" for kind in MODELS])
    for kind in MODELS:
        path = root / FOLDER / file_name(kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(schema_text(kind))
            os.chmod(tmp, 0o644)  # not private: it describes the files, holds no data
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        out.append(path)
    return out
