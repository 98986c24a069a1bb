"""Repairs to WeasyPrint's PDF structure tree, so the tags read as one document.

WeasyPrint (70) tags each page as its own ``/Part`` and cuts every element
that crosses a page into one structure element per page (WeasyPrint issue
2903): a list or a table that runs onto the next page becomes two lists or two
tables to a screen reader. It also writes table header cells without
``/Scope``, so the link between a header and its cells is not machine-readable
(PDF/UA-1, ISO 14289-1 7.5).

:func:`repair` fixes both with pikepdf, on the finished bytes:

- every ``/TH`` gets ``/Scope /Column`` (in a ``/THead``) or ``/Scope /Row``;
- at each page break, the element still open at the foot of page *n* and its
  continuation at the top of page *n + 1* are merged back into one element,
  level by level, as deep as the layout says the open elements go. A table's
  repeated header row on the continuation page is dropped from the tree and
  its content marked as an artifact (a repeated header is pagination, not
  content).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

import pikepdf
from pikepdf import Array, Dictionary, Name

# The structure types WeasyPrint writes for the block elements that can cross
# a page; a pair of fragments is merged only when both have the same type.
MERGEABLE = {
    "/Sect",
    "/Div",
    "/Art",
    "/Part",
    "/NonStruct",
    "/L",
    "/LI",
    "/LBody",
    "/Table",
    "/TBody",
    "/P",
    "/BlockQuote",
    "/Note",
}


def _kids(node: Dictionary) -> list:
    k = node.get("/K")
    if k is None:
        return []
    if isinstance(k, Array):
        return list(k)
    return [k]


def _elements(node: Dictionary) -> list[Dictionary]:
    return [k for k in _kids(node) if isinstance(k, Dictionary) and "/S" in k]


def _set_kids(node: Dictionary, kids: list) -> None:
    node.K = Array(kids)


def _walk(node: Dictionary) -> Iterable[Dictionary]:
    for kid in _elements(node):
        yield kid
        yield from _walk(kid)


def add_scope(pdf: pikepdf.Pdf) -> int:
    """Give every table header cell a /Scope; return how many were set."""
    count = 0

    def visit(node: Dictionary, in_head: bool) -> None:
        nonlocal count
        for kid in _elements(node):
            kind = str(kid.S)
            if kind == "/TH":
                scope = Name.Column if in_head else Name.Row
                attrs = kid.get("/A")
                if isinstance(attrs, Dictionary) and attrs.get("/O") == Name.Table:
                    attrs.Scope = scope
                else:
                    table_attrs = Dictionary(O=Name.Table, Scope=scope)
                    if attrs is None:
                        kid.A = table_attrs
                    elif isinstance(attrs, Array):
                        attrs.append(table_attrs)
                    else:
                        kid.A = Array([attrs, table_attrs])
                count += 1
            visit(kid, in_head or kind == "/THead")

    visit(pdf.Root.StructTreeRoot, False)  # type: ignore[arg-type]  # pikepdf types tree nodes as Object
    return count


def merge_page_fragments(pdf: pikepdf.Pdf, open_depths: list[int] | None = None) -> int:
    """Merge the elements cut at page breaks; return how many merges were made.

    ``open_depths[i]`` is how many nested block elements are still open at the
    foot of page ``i + 1`` (from the layout); without it, fragments are
    merged while their types match, down to the first mismatch."""
    root = pdf.Root.StructTreeRoot
    tops = _elements(root)  # type: ignore[arg-type]  # pikepdf types tree nodes as Object
    if len(tops) != 1 or str(tops[0].S) != "/Document":
        return 0
    document = tops[0]
    kids = _elements(document)
    parts = [k for k in kids if str(k.S) == "/Part"]
    if len(parts) < 2:
        return 0
    # A `position: fixed` element (the "Translation not yet reviewed" band) is
    # drawn, and tagged beside the page's part, on every page: it is read once,
    # where it first appears; its copies on later pages become artifacts.
    fixed = _drop_repeats([k for k in kids if str(k.S) != "/Part"])
    merges = 0
    first = parts[0]
    for index, part in enumerate(parts[1:]):
        depth = open_depths[index] if open_depths is not None else 64
        merges += _merge_into(first, part, depth)
        _adopt(first, _kids(part))
        _set_kids(first, _kids(first) + _kids(part))
    _set_kids(
        document,
        [
            k
            for k in _kids(document)
            if _same(k, first)
            or not any(_same(k, p) for p in parts)
            and (not isinstance(k, Dictionary) or "/S" not in k or any(_same(k, f) for f in fixed))
        ],
    )
    return merges


def _signature(node: Dictionary) -> tuple:
    return (str(node.S), tuple(_signature(k) for k in _elements(node)))


def _drop_repeats(nodes: list[Dictionary]) -> list[Dictionary]:
    """The nodes to keep: the first of each shape; the others' content becomes artifacts."""
    seen: set[tuple] = set()
    keep = []
    for node in nodes:
        shape = _signature(node)
        if shape in seen:
            for mcid, page in _marked_content(node):
                _mark_artifact(page, mcid)
        else:
            seen.add(shape)
            keep.append(node)
    return keep


def _same(a, b) -> bool:  # noqa: ANN001
    """The same indirect object (pikepdf's == compares values, not identity)."""
    return (
        isinstance(a, pikepdf.Object)
        and isinstance(b, pikepdf.Object)
        and a.is_indirect
        and b.is_indirect
        and a.objgen == b.objgen
    )


def _adopt(parent: Dictionary, kids: list) -> None:
    for kid in kids:
        if isinstance(kid, Dictionary) and "/S" in kid:
            kid.P = parent


def _merge_into(a_parent: Dictionary, b_parent: Dictionary, depth: int) -> int:
    """Merge b_parent's first element into a_parent's last element when they are
    two fragments of one element, recursively; b_parent loses the merged kid."""
    if depth <= 0:
        return 0
    a_kids, b_kids = _elements(a_parent), _elements(b_parent)
    if not a_kids or not b_kids:
        return 0
    a, b = a_kids[-1], b_kids[0]
    if str(a.S) != str(b.S) or str(a.S) not in MERGEABLE:
        return 0
    merges = 1
    if str(b.S) == "/Table":
        _drop_repeated_head(b)
        # Rows continue in the first fragment's body.
        merges += _merge_table(a, b)
    else:
        merges += _merge_into(a, b, depth - 1)
        _adopt(a, _kids(b))
        _set_kids(a, _kids(a) + _kids(b))
    _set_kids(b_parent, [k for k in _kids(b_parent) if not _same(k, b)])
    return merges


def _merge_table(a: Dictionary, b: Dictionary) -> int:
    a_bodies = [k for k in _elements(a) if str(k.S) == "/TBody"]
    rest = []
    merged = 0
    for kid in _kids(b):
        if isinstance(kid, Dictionary) and str(kid.get("/S")) == "/TBody" and a_bodies:
            _adopt(a_bodies[-1], _kids(kid))
            _set_kids(a_bodies[-1], _kids(a_bodies[-1]) + _kids(kid))
            merged += 1
        else:
            rest.append(kid)
    _adopt(a, rest)
    _set_kids(a, _kids(a) + rest)
    return merged


def _drop_repeated_head(table: Dictionary) -> None:
    """Remove a continuation fragment's /THead: its cells repeat the header
    printed on the first page. Its marked content becomes an artifact."""
    heads = [k for k in _elements(table) if str(k.S) == "/THead"]
    for head in heads:
        for mcid, page in _marked_content(head):
            _mark_artifact(page, mcid)
        _set_kids(table, [k for k in _kids(table) if not _same(k, head)])


def _marked_content(node: Dictionary) -> Iterable[tuple[int, Dictionary]]:
    page = node.get("/Pg")
    for kid in _kids(node):
        if isinstance(kid, int):
            yield kid, page  # type: ignore[misc]  # pikepdf types tree nodes as Object
        elif isinstance(kid, Dictionary) and "/S" in kid:
            yield from _marked_content(kid)
        elif isinstance(kid, Dictionary) and "/MCID" in kid:
            yield int(kid.MCID), kid.get("/Pg", page)  # type: ignore[misc, arg-type]  # pikepdf types tree nodes as Object


_ARTIFACTS: dict[tuple, set[int]] = {}


def _mark_artifact(page: Dictionary | None, mcid: int) -> None:
    if page is None:
        return
    _ARTIFACTS.setdefault(page.objgen, set()).add(mcid)


def _rewrite_artifacts(pdf: pikepdf.Pdf) -> None:
    """Turn the marked content of dropped header cells into /Artifact spans."""
    for page in pdf.pages:
        wanted = _ARTIFACTS.get(page.obj.objgen)
        if not wanted:
            continue
        ops = pikepdf.parse_content_stream(page)
        out = []
        for operands, operator in ops:  # type: ignore[misc]  # pikepdf types tree nodes as Object
            if (
                str(operator) == "BDC"
                and len(operands) == 2
                and isinstance(operands[1], Dictionary)
                and "/MCID" in operands[1]
                and int(operands[1].MCID) in wanted
            ):
                out.append(([Name.Artifact], pikepdf.Operator("BMC")))
                continue
            out.append((operands, operator))
        page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(out))
    _ARTIFACTS.clear()


def _fix_parent_tree(pdf: pikepdf.Pdf) -> None:
    """Point every marked-content id at its (possibly merged) parent again."""
    root = pdf.Root.StructTreeRoot
    if "/ParentTree" not in root:
        return
    parents: dict[tuple[tuple, int], Dictionary] = {}

    def visit(node: Dictionary, page) -> None:  # noqa: ANN001
        page = node.get("/Pg", page)
        for kid in _kids(node):
            if isinstance(kid, Dictionary) and "/S" in kid:
                visit(kid, page)
            elif isinstance(kid, Dictionary) and "/MCID" in kid:
                pg = kid.get("/Pg", page)
                if pg is not None:
                    parents[(pg.objgen, int(kid.MCID))] = node
            else:
                try:
                    mcid = int(kid)
                except (TypeError, ValueError):
                    continue
                if page is not None:
                    parents[(page.objgen, mcid)] = node

    visit(root, None)  # type: ignore[arg-type]  # pikepdf types tree nodes as Object
    nums = root.ParentTree.get("/Nums")
    if nums is None:
        return
    for page in pdf.pages:
        key = page.obj.get("/StructParents")
        if key is None:
            continue
        for i in range(0, len(nums), 2):
            if int(nums[i]) != int(key):
                continue
            array = nums[i + 1]
            for mcid in range(len(array)):
                parent = parents.get((page.obj.objgen, mcid))
                if parent is not None:
                    array[mcid] = parent


_EMPTY_BFCHAR = re.compile(rb"^(<[0-9a-fA-F]{4}>) <>$", re.M)


def fill_empty_unicode(pdf: pikepdf.Pdf) -> int:
    """Give glyphs that WeasyPrint maps to no text (the second glyph of an
    Arabic cluster whose text went to the first) a zero-width non-joiner:
    an empty ToUnicode entry is malformed for PDF/UA-1, and U+200C adds no
    visible text to what a screen reader or copy-paste gets."""
    fixed = 0
    for font in pdf.objects:
        if not isinstance(font, Dictionary) or "/ToUnicode" not in font:
            continue
        stream = font.ToUnicode
        data = stream.read_bytes()
        new, n = _EMPTY_BFCHAR.subn(rb"\1 <200c>", data)
        if n:
            stream.write(new)
            fixed += n
    return fixed


def repair(data: bytes, open_depths: list[int] | None = None) -> bytes:
    """Return the PDF with /Scope on header cells and page-split elements merged."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        if "/StructTreeRoot" not in pdf.Root:
            return data
        add_scope(pdf)
        merge_page_fragments(pdf, open_depths)
        _rewrite_artifacts(pdf)
        _fix_parent_tree(pdf)
        fill_empty_unicode(pdf)
        out = io.BytesIO()
        # Same input, same bytes: the /ID is derived from the content.
        pdf.save(out, deterministic_id=True)
        return out.getvalue()
