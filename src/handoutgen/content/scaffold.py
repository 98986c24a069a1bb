"""``handoutgen init``: a new workspace that validates and renders on the first try.

The starting content is the repository's own reviewed content for one kind of
document (a handout, a brochure, a booklet, a letter or an option grid), its
options and a sample brand, plus a starting template and stylesheet for
designers, the template reference, and a README for the content team. Every
YAML file's first line points editors at the JSON Schema written into
``schemas/``. The packaged starter's content files are links to the
repository's ``handouts/`` (one copy; a wheel carries the files themselves).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from handoutgen.content.schema import FOLDER, MODELS, file_name, kind_of, modeline, schema_text
from handoutgen.content.workspace import PACKAGE_DIR, display_path
from handoutgen.core.errors import ContentError

STARTER = PACKAGE_DIR / "starter"
# Each kind of workspace and the reviewed sample document it starts from.
KINDS = {
    "handout": "neck-surgery",
    "brochure": "spine-brochure",
    "booklet": "spine-booklet",
    "letter": "followup-letter",
    "grid": "option-grid",
}
DEFAULT_KIND = "handout"
# Sample recipients (fictional) for `handoutgen batch`: the kinds that mail.
RECIPIENTS = "mailing/recipients.csv"
MAILED = ("letter", "grid")

SAMPLE_BRAND = "example-clinic"
# A starting point per packaged template: (block, where it is, example markup).
# Each fills a block that is empty, or keeps the packaged part with super().
_EXAMPLES = {
    "handout.html": (
        "before_table",
        "a line just above the comparison table",
        '<p class="clinic-note">Ask us about any of these options at your next visit.</p>',
    ),
    "booklet.html": (
        "before_table",
        "a line just above the comparison table",
        '<p class="clinic-note">Ask us about any of these options at your next visit.</p>',
    ),
    "letter.html": (
        "after_about",
        'a line after "About this handout" (the packaged notices kept)',
        '{{ super() }}\n<p class="clinic-note">Questions? Call us: we are glad to help.</p>',
    ),
    "trifold.html": (
        "extra_css",
        "a rule after the brochure's own styles",
        "{{ super() }}\n.cover h1 { letter-spacing: 0.02em; }",
    ),
    "grid.html": (
        "extra_css",
        "a rule after the grid's own styles",
        "{{ super() }}\n.grid th { letter-spacing: 0.02em; }",
    ),
}
_BLOCK = re.compile(r"{%-?\s*block\s+(\w+)")
_EXTENDS = re.compile(r"{%-?\s*extends\s+[\"']([\w.-]+)[\"']")


def starter_files(kind: str = DEFAULT_KIND) -> dict[str, str]:
    """Relative path -> text of every file of a new workspace of ``kind``."""
    if kind not in KINDS:
        raise ContentError(f"no workspace kind {kind!r}; pick one of: {', '.join(KINDS)}")
    document = KINDS[kind]
    packaged = _packaged()
    doc = f"handouts/{document}.yaml"
    data = yaml.safe_load(packaged[doc])
    wanted = {*data.get("options", []), *data.get("offers", [])}
    have = {Path(rel).stem for rel in packaged if rel.startswith("handouts/options/")}
    if wanted - have:  # pragma: no cover - caught by the init tests
        raise ContentError(f"the starter lacks options {sorted(wanted - have)} of {doc}")
    files: dict[str, str] = {}
    for rel, text in packaged.items():
        parts = rel.split("/")
        if (
            parts[0] == "handouts"
            and len(parts) == 2
            and rel != doc
            and parts[1] != "warning-signs.yaml"
        ):
            continue  # another kind's document
        if parts[:2] == ["handouts", "options"] and Path(rel).stem not in wanted:
            continue
        if rel == RECIPIENTS and kind not in MAILED:
            continue
        files[rel] = text
    template = f"my-{kind}.html"
    files[doc] = _wire(packaged[doc], doc, template)
    files[f"templates/{template}"] = starter_template(kind, data["template"])
    files["README.md"] = readme(files["README.md"], kind)
    for model in MODELS:
        files[f"{FOLDER}/{file_name(model)}"] = schema_text(model)
    return files


def _packaged() -> dict[str, str]:
    """Every file of the packaged starter, by relative path."""
    files: dict[str, str] = {}
    for path in sorted(STARTER.rglob("*")):
        if path.is_dir() or path.name.startswith(".") or "__pycache__" in path.parts:
            continue
        files[path.relative_to(STARTER).as_posix()] = path.read_text(encoding="utf-8")
    return files


def _wire(text: str, rel: str, template: str) -> str:
    """The starter document uses the workspace's own template, stylesheet and
    brand, so a designer sees an edit to any of them at once."""
    line = re.compile(r"^template: .*\n", re.MULTILINE)
    if not line.search(text) or re.search(r"^styles:", text, re.MULTILINE):
        raise ContentError(  # pragma: no cover - caught by the init tests
            f"the starter {rel} needs one 'template:' line to wire and no 'styles:'"
        )
    wiring = f"template: {template}\n"
    if not re.search(r"^brand:", text, re.MULTILINE):
        wiring += f"brand: {SAMPLE_BRAND}\n"
    return line.sub(lambda _m: wiring + "styles:\n  - clinic.css\n", text, count=1)


def starter_template(kind: str, packaged: str) -> str:
    """``templates/my-KIND.html``: extends the packaged template and lists the
    blocks it can fill, read from the packaged templates themselves."""
    import textwrap

    listed: set[str] = set()
    lines = []
    name: str | None = packaged
    while name:
        source = (PACKAGE_DIR / "templates" / name).read_text(encoding="utf-8")
        blocks = [b for b in dict.fromkeys(_BLOCK.findall(source)) if b not in listed]
        listed.update(blocks)
        if blocks:
            lines.append(
                textwrap.fill(
                    ", ".join(blocks),
                    width=78,
                    initial_indent=f"      from {name}: ",
                    subsequent_indent="        ",
                )
            )
        parent = _EXTENDS.search(source)
        name = parent.group(1) if parent else None
    block, where, markup = _EXAMPLES[packaged]
    return (
        f"{{#- Your clinic's {kind}. It starts as the packaged {packaged}\n"
        f"    (default/{packaged}) and changes only the blocks you fill in below;\n"
        "    everything else follows the packaged template, updates included.\n\n"
        "    Blocks you can fill (docs/templates.md describes each and what it sees):\n"
        + "\n".join(lines)
        + "\n    A block that the template you extend does not have is an error\n"
        "    (`handoutgen validate` names its line), never silently ignored.\n"
        "    Text is escaped for you: a patient's name can never become markup. -#}\n"
        f'{{% extends "default/{packaged}" %}}\n\n'
        + textwrap.fill(
            f"An example: {where}. Remove the comment markers around it to try it, "
            "then watch the page with",
            width=78,
            initial_indent="{#- ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
        + f"\n    `handoutgen preview {KINDS[kind]} --serve`."
        + f"\n\n{{% block {block} %}}\n{markup}\n{{% endblock %}}\n-#}}\n"
    )


def readme(text: str, kind: str) -> str:
    """The starter README for ``kind``: its document's commands."""
    document = KINDS[kind]
    batch = (
        f"handoutgen batch {document} {RECIPIENTS} -o output/mailing   # sample people: one PDF each\n"
        if kind in MAILED
        else ""
    )
    return text.replace("@batch@\n", batch).replace("@document@", document).replace("@kind@", kind)


def add_modelines(files: dict[str, str], root: Path) -> dict[str, str]:
    """Put each YAML file's schema line first (once)."""
    out = {}
    for rel, text in files.items():
        kind = kind_of(root / rel, root / "handouts") if rel.endswith(".yaml") else None
        if kind and not text.startswith("# yaml-language-server:"):
            text = modeline(root / rel, root, kind) + text
        out[rel] = text
    return out


def init_workspace(target: Path, kind: str = DEFAULT_KIND) -> list[Path]:
    """Create a ``kind`` workspace in ``target`` (made if missing). Nothing is written
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
    files = add_modelines(starter_files(kind), root)
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
