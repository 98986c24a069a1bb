"""Load and validate a workspace's content: option files and document definitions.

``load_library`` reads every file, collects every problem (YAML syntax, unknown
keys, wrong types, cross-references) and raises them together, once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from handoutgen.content.color import AA_TEXT, contrast
from handoutgen.content.models import (
    GRID_OPTIONS,
    MOVED_TO_PROFILE,
    PATTERN_HINTS,
    RETIRED_DOCUMENT_KEYS,
    RETIRED_INSTEAD,
    Brand,
    Document,
    Option,
    WarningSigns,
)
from handoutgen.content.signs import SIGNS_FILE
from handoutgen.content.translations import Translations, load_translations
from handoutgen.content.workspace import PACKAGE_DIR, Workspace
from handoutgen.content.yamlfile import YamlFile, load_yaml
from handoutgen.core.errors import Problem, ValidationFailed
from handoutgen.core.version import __version__


@dataclass(frozen=True)
class Library:
    """Validated content of one workspace."""

    workspace: Workspace
    options: dict[str, Option]
    documents: dict[str, Document]
    files: dict[str, YamlFile]
    content_hash: str
    option_files: dict[str, YamlFile]
    document_files: dict[str, YamlFile]
    brands: dict[str, Brand] = field(default_factory=dict)
    # Translation files (translations.py): records, and problems `check` reports.
    translations: Translations = field(default_factory=Translations)
    # handouts/warning-signs.yaml (signs.py): None only when no document needs it.
    signs: WarningSigns | None = None
    signs_file: YamlFile | None = None

    def declared_assets(self) -> frozenset[Path]:
        """The images the documents list and the clinic logos (resolved), with
        their per-language versions: files a template may read wherever they are
        in the workspace (Workspace.reach_refused)."""
        names = [i.src for d in self.documents.values() for i in d.images]
        names += [b.logo for b in self.brands.values() if b.logo]
        out: set[Path] = set()
        for name in names:
            path = self.workspace.root / name
            out.add(path.resolve())
            out.update(p.resolve() for p in path.parent.glob(f"{path.stem}.*{path.suffix}"))
        return frozenset(out)

    def document(self, doc_id: str) -> Document:
        from handoutgen.core.errors import DataError

        try:
            return self.documents[doc_id]
        except KeyError:
            raise DataError(
                f"unknown document '{doc_id}'{did_you_mean(doc_id, self.documents)}; "
                "`handoutgen list` shows the documents"
            ) from None


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def not_offered(library: Library, doc: Document, ids: typing.Iterable[str]) -> str | None:
    """Why ``doc`` cannot print these (known) option ids, or None: a document
    prints its own options and the ones it ``offers:``, nothing else (an option
    grid, 2 to 4 of them)."""
    ids = list(ids)
    refused = [i for i in dict.fromkeys(ids) if i in library.options and i not in doc.offered]
    if not refused:
        return grid_count(doc, ids)
    where = library.document_files[doc.id].display if doc.id in library.document_files else doc.id
    return (
        f"{doc.id} does not offer {'option' if len(refused) == 1 else 'options'} "
        f"{', '.join(repr(i) for i in refused)}; it offers {', '.join(doc.offered)} "
        f"(a document offers more when {where} lists them under offers:)"
    )


def grid_count(doc: Document, ids: typing.Iterable[str]) -> str | None:
    """Why an option grid cannot compare these option ids (too few or too many),
    or None; other kinds, and no ids (the document's own), pass."""
    chosen = list(dict.fromkeys(ids))
    least, most = GRID_OPTIONS
    if doc.kind != "grid" or not chosen or least <= len(chosen) <= most:
        return None
    return (
        f"{doc.id} is an option grid: it compares {least} to {most} options side by side, "
        f"and {len(chosen)} {'was' if len(chosen) == 1 else 'were'} chosen "
        f"({', '.join(chosen)}); choose {least} to {most} of: {', '.join(doc.offered)}"
    )


def _grid_problems(doc: Document, yf: YamlFile) -> list[Problem]:
    least, most = GRID_OPTIONS
    out = []
    if doc.pages is None or doc.pages > 2:
        out.append(
            yf.problem(
                ("pages",) if doc.pages else (),
                "an option grid is one sheet: set pages: 2 (front and back) or pages: 1",
            )
        )
    if not least <= len(doc.options) <= most:
        out.append(
            yf.problem(
                ("options",),
                f"an option grid compares {least} to {most} options; options: lists "
                f"{len(doc.options)} (list the rest under offers:)",
            )
        )
    return out


def load_library(workspace: Workspace) -> Library:
    """Read and validate everything; raise :class:`ValidationFailed` with every problem."""
    problems: list[Problem] = []
    files: dict[str, YamlFile] = {}
    options: dict[str, Option] = {}
    option_files: dict[str, YamlFile] = {}
    documents: dict[str, Document] = {}
    document_files: dict[str, YamlFile] = {}

    if not workspace.options_dir.is_dir():
        problems.append(
            Problem(workspace.display(workspace.options_dir), None, None, "folder is missing")
        )
    for yf, model in _load_folder(workspace, workspace.options_dir, Option, files, problems):
        if model.id in options:
            problems.append(
                yf.problem(
                    ("id",),
                    f"duplicate option id '{model.id}' (also in {option_files[model.id].display})",
                )
            )
            continue
        options[model.id] = model
        option_files[model.id] = yf

    for yf, model in _load_folder(
        workspace, workspace.handouts_dir, Document, files, problems, skip=SIGNS_FILE
    ):
        documents[model.id] = model
        document_files[model.id] = yf
    signs_file, signs = _load_signs(workspace, files, problems, needed=bool(documents))

    brands: dict[str, Brand] = {}
    brand_dir = workspace.handouts_dir / "brands"
    for yf, brand in _load_folder(workspace, brand_dir, Brand, files, problems):
        _check_brand(workspace, brand, yf, problems)
        brands[brand.id] = brand
    broken_brands = {p.stem for p in brand_dir.glob("*.yaml")} - set(brands)

    _check_stylesheets(workspace, documents, problems)

    # Cross-references are checked only against options that loaded, so one
    # broken option file does not drown a document in "unknown option" errors.
    broken_options = {p.stem for p in workspace.options_dir.glob("*.yaml")} - set(options)
    for doc_id, doc in documents.items():
        yf = document_files[doc_id]
        _check_document(workspace, doc, yf, options, broken_options, problems)
        if signs is not None and doc.region not in signs.regions:
            problems.append(
                yf.problem(
                    ("region",),
                    f"region '{doc.region}' has no warning signs in handouts/{SIGNS_FILE}: "
                    f"add a '{doc.region}:' set under regions: there",
                )
            )
        if doc.brand and doc.brand not in brands and doc.brand not in broken_brands:
            problems.append(
                yf.problem(
                    ("brand",),
                    f"unknown brand '{doc.brand}'{did_you_mean(doc.brand, brands)}; brands "
                    "live in handouts/brands/",
                )
            )
        for i, image in enumerate(doc.images):
            _check_file(workspace, "image", image.src, yf, ("images", i, "src"), problems)
    if signs is not None:
        for opt_id, option in options.items():
            _check_watch_after(option, signs, option_files[opt_id], problems)

    if problems:
        raise ValidationFailed(problems)
    # Translations are merged into the models' text fields; their problems
    # are `check` errors (and keep that file's language unavailable), not
    # load errors: a bad Spanish file must not stop English handouts.
    items: dict[tuple[str, str], tuple[Any, YamlFile]] = {}
    items.update({("option", k): (v, option_files[k]) for k, v in options.items()})
    items.update({("document", k): (v, document_files[k]) for k, v in documents.items()})
    brand_files = {yf.path.stem: yf for yf in files.values() if yf.path.parent == brand_dir}
    items.update({("brand", k): (v, brand_files[k]) for k, v in brands.items() if k in brand_files})
    if signs is not None and signs_file is not None:
        items[("signs", "warning-signs")] = (signs, signs_file)
    translations, merged = load_translations(
        workspace.handouts_dir, workspace.display, workspace.confined, items
    )
    for (kind, key), model in merged.items():
        if kind == "signs":
            signs = model  # type: ignore[assignment]
            continue
        {"option": options, "document": documents, "brand": brands}[kind][key] = model  # type: ignore[index]
    return Library(
        workspace,
        options,
        documents,
        files,
        _content_hash(workspace, files, translations.paths + [workspace.handouts_dir / "notices"]),
        option_files,
        document_files,
        brands,
        translations,
        signs,
        signs_file,
    )


def _load_folder(
    workspace: Workspace,
    folder: Path,
    model: type[BaseModel],
    files: dict[str, YamlFile],
    problems: list[Problem],
    skip: str = "",
) -> typing.Iterator[tuple[YamlFile, Any]]:
    """Every valid model in ``folder/*.yaml`` but ``skip``; problems are collected,
    not raised."""
    for path in sorted(folder.glob("*.yaml")):
        if path.name == skip:
            continue
        if not workspace.confined(path):
            problems.append(
                Problem(
                    workspace.display(path),
                    None,
                    None,
                    "leads outside the workspace (through a symlink); content files must "
                    "lie inside it",
                )
            )
            continue
        yf, obj = _load_model(workspace, path, model, problems)
        if yf is None:
            continue
        files[yf.display] = yf
        if obj is None:
            continue
        _check_id(yf, obj.id, path, problems)
        yield yf, obj


def _load_signs(
    workspace: Workspace, files: dict[str, YamlFile], problems: list[Problem], *, needed: bool
) -> tuple[YamlFile | None, WarningSigns | None]:
    """handouts/warning-signs.yaml: every document prints its region's signs from it."""
    path = workspace.handouts_dir / SIGNS_FILE
    shown = workspace.display(path)
    if not path.is_file():
        if needed:
            problems.append(
                Problem(
                    shown,
                    None,
                    None,
                    'is missing: every document\'s "When to get help" block prints the warning '
                    "signs of its region from it; copy it from a new workspace (`handoutgen "
                    "init DIR`) and adapt it",
                )
            )
        return None, None
    if not workspace.confined(path):
        problems.append(
            Problem(shown, None, None, "leads outside the workspace (through a symlink)")
        )
        return None, None
    yf, signs = _load_model(workspace, path, WarningSigns, problems)
    if yf is not None:
        files[yf.display] = yf
    return yf, signs


def _check_watch_after(
    option: Option, signs: WarningSigns, yf: YamlFile, problems: list[Problem]
) -> None:
    """An option's after-procedure sign ids must name signs under after:."""
    if option.watch_after is None:
        return
    known = set(signs.after.emergency) | set(signs.after.soon)
    own = set(option.watch_after.emergency) | set(option.watch_after.soon)
    for i, sign_id in enumerate(option.watch_after.signs):
        if sign_id not in known:
            problems.append(
                yf.problem(
                    ("watch_after", "signs", i),
                    f"unknown after-procedure sign '{sign_id}'{did_you_mean(sign_id, known)}; "
                    f"the shared ones are listed under after: in handouts/{SIGNS_FILE}, or "
                    "give the option its own under watch_after: emergency: or soon:",
                )
            )
        elif sign_id in own:
            problems.append(
                yf.problem(
                    ("watch_after", "signs", i),
                    f"sign '{sign_id}' is both a shared sign and one of this option's own; "
                    "give its own sign another id",
                )
            )


# (foreground, background) pairs a brand uses for text, and what they print.
BRAND_PAIRS = (
    ("text", "background", "body text"),
    ("primary", "background", "headings"),
    ("on_primary", "primary", "text on the primary color"),
    ("text", "tint", "text on tinted boxes"),
)


def _check_brand(workspace: Workspace, brand: Brand, yf: YamlFile, problems: list[Problem]) -> None:
    colors = brand.colors
    for fg, bg, use in BRAND_PAIRS:
        a, b = getattr(colors, fg), getattr(colors, bg)
        ratio = contrast(a, b)
        if ratio < AA_TEXT:
            problems.append(
                yf.problem(
                    ("colors", fg),
                    f"colors.{fg} {a} on colors.{bg} {b} ({use}) has contrast {ratio:.2f}:1, "
                    f"below WCAG AA {AA_TEXT}:1; darken or lighten one of them",
                )
            )
    if brand.logo:
        _check_file(workspace, "logo", brand.logo, yf, ("logo",), problems)
    if brand.font_family:
        from handoutgen.content.fontcheck import font_problem

        message = font_problem(workspace, brand.font_family)
        if message:
            problems.append(yf.problem(("font_family",), message))


def _check_stylesheets(
    workspace: Workspace, documents: dict[str, Document], problems: list[Problem]
) -> None:
    """CSS syntax problems at their line in the designer's own file: every
    stylesheet in the workspace's styles/ and every one a document names."""
    from handoutgen.content.cssfile import css_problems
    from handoutgen.content.workspace import PathRefused

    paths: set[Path] = set()
    styles = workspace.root / "styles"
    if styles.is_dir():
        paths.update(p for p in styles.rglob("*.css") if workspace.confined(p) and p.is_file())
    for doc in documents.values():
        for name in doc.styles:
            try:
                found = workspace.find_style(name)
            except PathRefused:
                continue  # reported by the document's own checks
            if found is not None:
                paths.add(found)
    for path in sorted(paths):
        display = workspace.display(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(display, None, None, f"cannot read the stylesheet: {exc}"))
            continue
        problems.extend(css_problems(text, display))


def _check_file(
    workspace: Workspace,
    what: str,
    name: str,
    yf: YamlFile,
    loc: tuple[Any, ...],
    problems: list[Problem],
) -> None:
    """A named file must resolve inside the workspace or the package (workspace.find)."""
    from handoutgen.content.workspace import PathRefused

    dirs = {"template": workspace.template_dirs, "stylesheet": workspace.style_dirs}.get(
        what, [workspace.root]
    )
    try:
        found = workspace.find(dirs, name, f"{what} path")
    except PathRefused as exc:
        # The refused path itself is not repeated: it may point at a secret.
        problems.append(yf.problem(loc, exc.format_message()))
        return
    if found is None:
        problems.append(
            yf.problem(loc, f"{what} '{name}' not found; looked in {workspace.looked_in(dirs)}")
        )


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (clamped to the 28th: review dates need no more)."""
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=min(day.day, 28))


def _load_model(workspace: Workspace, path: Path, model: type[BaseModel], problems: list[Problem]):
    yf, yaml_problems = load_yaml(path, workspace.display(path))
    problems.extend(yaml_problems)
    if yf is None:
        return None, None
    if not isinstance(yf.data, dict):
        problems.append(
            yf.problem((), f"expected a mapping of keys ({model.__name__.lower()} fields)")
        )
        return yf, None
    try:
        return yf, model.model_validate(yf.data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(yf, model, exc))
        return yf, None


def _check_id(yf: YamlFile, model_id: str, path: Path, problems: list[Problem]) -> None:
    if model_id != path.stem:
        problems.append(
            yf.problem(
                ("id",),
                f"id '{model_id}' does not match the file name {path.name}; "
                f"rename the file or set id: {path.stem}",
            )
        )


def _check_document(
    workspace: Workspace,
    doc: Document,
    yf: YamlFile,
    options: dict[str, Option],
    broken: set[str],
    problems: list[Problem],
) -> None:
    seen: set[str] = set()
    for i, opt_id in enumerate(doc.options):
        if opt_id in seen:
            problems.append(yf.problem(("options", i), f"option '{opt_id}' is listed twice"))
        seen.add(opt_id)
        if opt_id not in options and opt_id not in broken:
            problems.append(
                yf.problem(
                    ("options", i),
                    f"unknown option '{opt_id}'{did_you_mean(opt_id, set(options) | broken)}",
                )
            )
    offered: set[str] = set()  # one also in options: is harmless (it is offered)
    for i, opt_id in enumerate(doc.offers):
        if opt_id in offered:
            problems.append(yf.problem(("offers", i), f"option '{opt_id}' is listed twice"))
        offered.add(opt_id)
        if opt_id not in options and opt_id not in broken:
            problems.append(
                yf.problem(
                    ("offers", i),
                    f"unknown option '{opt_id}'{did_you_mean(opt_id, set(options) | broken)}",
                )
            )
    if not doc.disclaimers:
        problems.append(
            yf.problem(
                (),
                "document has no disclaimer: add at least one entry under 'disclaimers' "
                "(it is printed on every page)",
            )
        )
    if doc.kind == "letter" and doc.letter is None:
        problems.append(
            yf.problem((), "a document of kind letter needs a 'letter' section (sender, opening)")
        )
    if doc.kind == "grid":
        problems += _grid_problems(doc, yf)
    _check_file(workspace, "template", doc.template, yf, ("template",), problems)
    from handoutgen.content.workspace import PathRefused

    try:
        template = workspace.find_template(doc.template)
    except PathRefused:
        template = None  # reported just above, at the document's line
    if template is not None:
        from handoutgen.content.templatecheck import block_problems

        problems.extend(block_problems(workspace.template_dirs, doc.template))
    for i, style in enumerate(doc.styles):
        _check_file(workspace, "stylesheet", style, yf, ("styles", i), problems)
    if doc.status == "approved":
        problems.append(
            yf.problem(
                ("status",),
                "'status: approved' cannot be written by hand: approval is recorded by "
                f"`handoutgen approve {doc.id} --by NAME`, against the text it approves; "
                "remove this line",
            )
        )
    factor_ids: set[str] = set()
    for i, factor in enumerate(doc.factors):
        if factor.id in factor_ids:
            problems.append(
                yf.problem(("factors", i, "id"), f"factor '{factor.id}' is listed twice")
            )
        factor_ids.add(factor.id)
        for opt_id in doc.offered:
            option = options.get(opt_id)
            if option is not None and factor.id not in option.facts:
                problems.append(
                    yf.problem(
                        ("factors", i),
                        f"option '{opt_id}' has no answer for '{factor.id}': add it under "
                        f"facts in handouts/options/{opt_id}.yaml",
                    )
                )


def _pydantic_problems(yf: YamlFile, model: type[BaseModel], exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            if model is Document and len(loc) == 1 and key in RETIRED_DOCUMENT_KEYS:
                why = RETIRED_DOCUMENT_KEYS[str(key)]
                instead = RETIRED_INSTEAD.get(str(key), "remove this line")
                problems.append(
                    yf.problem(loc, f"'{key}' was retired ({why}); {instead}", key=True)
                )
                continue
            if model is Document and len(loc) == 1 and key in MOVED_TO_PROFILE:
                problems.append(yf.problem(loc, _moved_to_profile(yf, str(key)), key=True))
                continue
            known = _field_names(model, loc[:-1])
            problems.append(
                yf.problem(loc, f"unknown key '{key}'{did_you_mean(str(key), known)}", key=True)
            )
        elif kind == "missing":
            problems.append(yf.problem(loc[:-1], f"missing required key '{loc[-1]}'"))
        elif kind == "string_pattern_mismatch" and err["ctx"]["pattern"] in PATTERN_HINTS:
            # In words, with what was written: "logo: must be an .svg, .png, .jpg or
            # .pdf file inside the workspace, ...; got 'assets/Riverside Logo.gif'".
            field = ".".join(str(p) for p in loc)
            got = str(err["input"])
            got = got if len(got) <= 80 else got[:77] + "..."
            problems.append(
                yf.problem(loc, f"{field}: {PATTERN_HINTS[err['ctx']['pattern']]}; got {got!r}")
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            field = ".".join(str(p) for p in loc)
            problems.append(yf.problem(loc, f"{field}: {msg}" if field else msg))
    return problems


def _moved_to_profile(yf: YamlFile, key: str) -> str:
    """Where a document's clinic detail goes now: its clinic profile."""
    data = yf.data if isinstance(yf.data, dict) else {}
    brand = data.get("brand")
    where = (
        f"handouts/brands/{brand}.yaml"
        if isinstance(brand, str) and brand
        else "the clinic's profile in handouts/brands/<id>.yaml"
    )
    return (
        f"'{key}' belongs to the clinic, not the document: move it to {where} "
        f"({key}: there) and remove this line; each clinic's handouts then print its own number"
    )


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, str) and _is_model(current) and part in current.model_fields:
            current = current.model_fields[part].annotation
        elif isinstance(part, int):
            continue
        else:
            return []
    current = _unwrap(current)
    return list(current.model_fields) if _is_model(current) else []


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _unwrap(t: Any) -> Any:
    """list[X] -> X, X | None -> X, Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
        elif origin in (list, tuple):
            t = typing.get_args(t)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            t = args[0] if len(args) == 1 else t
            if len(args) != 1:
                return t
        else:
            return t


def _content_hash(
    workspace: Workspace, files: dict[str, YamlFile], extra: list[Path] | None = None
) -> str:
    """A hash of everything a rendered page depends on except the personal data:
    the files of the content manifest (``Workspace.content_files``), plus any
    loaded file outside it."""
    h = hashlib.sha256(f"handoutgen {__version__}\n".encode())
    paths = set(workspace.content_files())
    paths.update(p for p in [yf.path for yf in files.values()] + list(extra or []) if p.is_file())
    for path in sorted(paths):
        rel = _rel(path, workspace.root)
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _rel(path: Path, root: Path) -> str:
    # The package first: the checkout holds it inside the workspace, an install does not.
    for base, prefix in ((PACKAGE_DIR, "<package>/"), (root, "")):
        try:
            return prefix + path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()  # pragma: no cover
