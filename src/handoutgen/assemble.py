"""Assemble a composed PDF (parts.py) with pikepdf: the reader's flow, then
each option part's pages with their tag subtrees, under the flow's overlays.

The flow PDF ends with one overlay page per part page. Each part page is
appended with its tags, the matching overlay (running name, "Page X of Y") is
stamped on it as an artifact, and the overlay pages are dropped; the outline's
entries for them (the parts' bookmarks, placed there by WeasyPrint) are pointed
at the part pages."""

from __future__ import annotations

import io
from typing import Any


class NotComposable(ValueError):
    """The flow's pages cannot take the parts' pages as a full render would (why)."""


def copy_object(out: Any, obj: Any) -> Any:
    """copy_foreign for direct objects too (a parent tree holds direct arrays)."""
    import pikepdf

    if isinstance(obj, pikepdf.Object) and obj.is_indirect:
        return out.copy_foreign(obj)
    if isinstance(obj, pikepdf.Array):
        return pikepdf.Array([copy_object(out, x) for x in obj])
    if isinstance(obj, pikepdf.Dictionary):
        return pikepdf.Dictionary({k: copy_object(out, v) for k, v in obj.items()})
    return obj


def adopt_tags(out: Any, page: Any, source: Any, parents: dict[int, Any], next_key: int) -> int:
    """Give a page copied into ``out`` its entries in out's parent tree (its
    marked content's and its annotations'), from the source file's ``parents``.
    Returns the next free key."""
    from pikepdf import Array

    nums = out.Root.StructTreeRoot.ParentTree.Nums
    old_key = int(source.obj.get("/StructParents", -1))
    if old_key in parents:
        page.obj.StructParents = next_key
        nums.append(next_key)
        nums.append(copy_object(out, parents[old_key]))
        next_key += 1
    for annot in page.obj.get("/Annots", Array()):
        if "/StructParent" in annot and int(annot.StructParent) in parents:
            parent = parents[int(annot.StructParent)]
            annot.StructParent = next_key
            nums.append(next_key)
            nums.append(copy_object(out, parent))
            next_key += 1
    return next_key


def _document_element(pdf: Any) -> Any:
    import pikepdf

    root = pdf.Root.StructTreeRoot
    return root.K[0] if isinstance(root.K, pikepdf.Array) else root.K


def _kids(node: Any) -> list[Any]:
    import pikepdf

    k = node.get("/K")
    if k is None:
        return []
    items = list(k) if isinstance(k, pikepdf.Array) else [k]
    return [x for x in items if isinstance(x, pikepdf.Dictionary) and "/S" in x]


def _body(pdf: Any) -> Any:
    """Where the document's content elements sit: <main>'s element (Document >
    Part, as WeasyPrint tags a page of handoutgen's templates), else Document."""
    document = _document_element(pdf)
    kids = _kids(document)
    if len(kids) == 1 and kids[0].S == "/Part":
        return kids[0]
    return document


def _prune(node: Any, pages: set[tuple[int, int]]) -> None:
    """Drop the (empty) elements of the overlay pages from the flow's tag tree."""
    import pikepdf

    k = node.get("/K")
    if not isinstance(k, pikepdf.Array):
        return
    kept = []
    for kid in k:
        if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
            if "/Pg" in kid and kid.Pg.objgen in pages:
                if _kids(kid) or any(
                    not isinstance(x, pikepdf.Dictionary) for x in kid.get("/K", [])
                ):
                    # Tags left cut at page breaks (one element per page, as when
                    # a long letter runs onto a second page): the option pages'
                    # tags would not sit where a full render puts them.
                    raise NotComposable("the reader's tags are cut at page breaks")
                continue
            _prune(kid, pages)
        kept.append(kid)
    if len(kept) != len(k):
        node.K = pikepdf.Array(kept)


def _kids_or_items(node: Any) -> list[Any]:
    import pikepdf

    k = node.get("/K")
    if k is None:
        return []
    return list(k) if isinstance(k, pikepdf.Array) else [k]


def _parent_tree(pdf: Any) -> dict[int, Any]:
    nums = pdf.Root.StructTreeRoot.ParentTree.Nums
    return {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}


def stamp(page: Any, form: Any, resource: str) -> None:
    """Draw ``form`` over the page, as an artifact, under a fixed resource name
    (add_resource would pick a random one: same input, same bytes)."""
    import pikepdf
    from pikepdf import Name

    name = Name(resource)
    if "/Resources" not in page.obj:
        page.obj.Resources = pikepdf.Dictionary()
    if "/XObject" not in page.obj.Resources:
        page.obj.Resources.XObject = pikepdf.Dictionary()
    page.obj.Resources.XObject[name] = form
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(f"Q\n/Artifact BMC q {name} Do Q EMC\n".encode())


def _repoint_outline(item: Any, moved: dict[tuple[int, int], Any]) -> None:
    """Point outline destinations at the pages that replaced the overlay pages."""
    import pikepdf

    while item is not None:
        dest = item.get("/Dest")
        if isinstance(dest, pikepdf.Array) and len(dest) and dest[0].objgen in moved:
            dest[0] = moved[dest[0].objgen]
        action = item.get("/A")
        if action is not None and "/D" in action:
            d = action.D
            if isinstance(d, pikepdf.Array) and len(d) and d[0].objgen in moved:
                d[0] = moved[d[0].objgen]
        if "/First" in item:
            _repoint_outline(item.First, moved)
        item = item.get("/Next")


def compose(flow_pdf: bytes, flow: int, part_pdfs: list[bytes], overlays_pdf: bytes) -> bytes:
    """The reader's PDF: ``flow`` pages of the flow PDF, then each part's pages
    under the overlay pages that follow them (one per part page; stamped from
    ``overlays_pdf``, the same pages written untagged)."""
    import pikepdf
    from pikepdf import Array

    out = pikepdf.open(io.BytesIO(flow_pdf))
    stamps = pikepdf.open(io.BytesIO(overlays_pdf))
    root = out.Root.StructTreeRoot
    document = _body(out)
    nums = root.ParentTree.Nums
    next_key = max((int(nums[i]) for i in range(0, len(nums), 2)), default=-1) + 1
    overlay_pages = list(out.pages[flow:])
    overlay_ids = {p.obj.objgen for p in overlay_pages}
    moved: dict[tuple[int, int], Any] = {}
    new_children: list[Any] = []
    j = 0
    for data in part_pdfs:
        part = pikepdf.open(io.BytesIO(data))
        parents = _parent_tree(part)
        children = _kids(_body(part))
        for child in children:
            # Cut the link to the part's root, so copying a child copies only its subtree.
            if "/P" in child:
                del child["/P"]
        for source in part.pages:
            out.pages.append(source)
            page = out.pages[-1]
            next_key = adopt_tags(out, page, source, parents, next_key)
            form = out.copy_foreign(stamps.pages[j].as_form_xobject())
            stamp(page, form, f"/HgOverlay{j}")
            moved[overlay_pages[j].obj.objgen] = page.obj
            j += 1
        for child in children:
            copy = out.copy_foreign(child)
            copy.P = document
            new_children.append(copy)
    if j != len(overlay_pages):
        raise NotComposable(f"{len(overlay_pages)} overlay pages for {j} option pages")
    # The overlay pages hold no tagged content; drop the empty elements that point at them.
    _prune(_document_element(out), overlay_ids)
    document.K = Array([*_kids_or_items(document), *new_children])
    if "/ParentTreeNextKey" in root:
        root.ParentTreeNextKey = next_key
    if "/Outlines" in out.Root and "/First" in out.Root.Outlines:
        _repoint_outline(out.Root.Outlines.First, moved)
    for _ in overlay_pages:
        del out.pages[flow]
    buf = io.BytesIO()
    out.save(buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    out.close()
    stamps.close()
    return buf.getvalue()
