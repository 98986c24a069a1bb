"""JSON Schema for the YAML files, generated from the models, for editors.

VS Code (with the YAML extension) and other editors that speak the YAML
language server read ``# yaml-language-server: $schema=...`` at the top of a
file and then complete keys and flag mistakes as the author types.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from handoutgen.content.models import Brand, Document, Option, WarningSigns
from handoutgen.content.signs import SIGNS_FILE

MODELS: dict[str, type[BaseModel]] = {
    "option": Option,
    "document": Document,
    "brand": Brand,
    "signs": WarningSigns,
}
FOLDER = "schemas"


def schema(kind: str) -> dict:
    """The JSON Schema (draft 2020-12) of one kind of YAML file."""
    model = MODELS[kind]
    out = model.model_json_schema(mode="validation")
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", **out}
    out["title"] = f"handoutgen {kind}"
    return out


def schema_text(kind: str) -> str:
    return json.dumps(schema(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def file_name(kind: str) -> str:
    return f"{kind}.schema.json"


def kind_of(path: Path, handouts: Path) -> str | None:
    """Which schema a YAML file in a workspace's handouts/ follows."""
    try:
        rel = path.relative_to(handouts)
    except ValueError:
        return None
    parts = rel.parts
    if len(parts) == 1:
        return "signs" if parts[0] == SIGNS_FILE else "document"
    if len(parts) == 2 and parts[0] == "options":
        return "option"
    if len(parts) == 2 and parts[0] == "brands":
        return "brand"
    return None


def modeline(path: Path, workspace_root: Path, kind: str) -> str:
    """The editor line for ``path``: its schema, relative to the file."""
    import os

    target = workspace_root / FOLDER / file_name(kind)
    rel = os.path.relpath(target, path.parent)
    return f"# yaml-language-server: $schema={Path(rel).as_posix()}\n"


def write_schema(kind: str, path: Path) -> None:
    """Write ``kind``'s schema to ``path``. It replaces only an earlier JSON
    Schema: any other file (a content YAML file, say) is left alone."""
    from handoutgen.core.errors import HandoutgenError

    if not path.parent.is_dir():
        raise HandoutgenError(f"cannot write {path}: folder {path.parent} does not exist")
    if path.is_symlink():
        raise HandoutgenError(
            f"cannot write {path}: it is a symbolic link; nothing was written (give the "
            "real file's path, or remove the link)"
        )
    if path.is_dir():
        raise HandoutgenError(f"cannot write {path}: it is a folder")
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            old = None
        if not (isinstance(old, dict) and "$schema" in old):
            raise HandoutgenError(
                f"{path} exists and is not a JSON Schema; nothing was written. "
                "Pick a new file name, or remove that file first"
            )
    path.write_text(schema_text(kind), encoding="utf-8")
