"""Page-assembly helpers for editions (editions/), with pikepdf: stamp an overlay
on a page as an artifact, and give a page copied from another file its tag
entries."""

from __future__ import annotations

import io
from typing import Any

from markupsafe import escape

from handoutgen.editions.model import Edition
from handoutgen.render.marks import AUTHOR_PLACEHOLDER


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


# -- assembly (pikepdf) -------------------------------------------------------------------


class LetterTree:
    """The personal pages' tag tree, split by page so each recipient takes its own."""

    def __init__(self, pdf) -> None:  # noqa: ANN001
        import pikepdf

        self.pdf = pdf
        root = pdf.Root.StructTreeRoot
        document = root.K[0] if isinstance(root.K, pikepdf.Array) else root.K
        self.by_page: dict[tuple[int, int], list] = {}
        for child in document.K:
            # Cut the link up to this file's root, so copying a child copies only its subtree.
            if "/P" in child:
                del child["/P"]
            self.by_page.setdefault(child.Pg.objgen, []).append(child)
        nums = root.ParentTree.Nums
        self.parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}


def _set_author(out, author: str | None) -> None:  # noqa: ANN001
    """Put the recipient's author (clinic) where the edition has the placeholder."""
    if "/Author" in out.docinfo and str(out.docinfo.Author) == AUTHOR_PLACEHOLDER:
        if author:
            out.docinfo.Author = author
        else:
            del out.docinfo["/Author"]
    if "/Metadata" in out.Root:
        xmp = out.Root.Metadata.read_bytes()
        if AUTHOR_PLACEHOLDER.encode() in xmp:
            value = str(escape(author or "")).encode()
            out.Root.Metadata.write(xmp.replace(AUTHOR_PLACEHOLDER.encode(), value))


def assemble_letter(
    edition: Edition,
    ltree: LetterTree | None,
    lp: list[int],
    forms: list[Any],
    op: list[list[int]],
    author: str | None = None,
):  # noqa: ANN202
    import pikepdf
    from pikepdf import Array

    out = pikepdf.open(io.BytesIO(edition.pdf))
    _set_author(out, author)
    # 1. Stamp the overlays as form XObjects, marked as artifacts (the
    #    header and page number are artifacts; slot text is pagination data too).
    for j, positions in enumerate(op):
        for n, o_index in enumerate(positions):
            # copy_foreign copies a form once per output, however many pages take it.
            stamp(out.pages[j], out.copy_foreign(forms[o_index]), f"/HgVdp{j}_{n}")
    # 2. The personal pages go first, with their tag subtrees.
    if ltree is not None and lp:
        root = out.Root.StructTreeRoot
        document = root.K[0] if isinstance(root.K, Array) else root.K
        nums = root.ParentTree.Nums
        next_key = max((int(nums[i]) for i in range(0, len(nums), 2)), default=-1) + 1
        new_children = []
        for position, l_index in enumerate(lp):
            source = ltree.pdf.pages[l_index]
            out.pages.insert(position, source)
            page = out.pages[position]
            next_key = adopt_tags(out, page, source, ltree.parents, next_key)
            for child in ltree.by_page.get(source.obj.objgen, []):
                copy = out.copy_foreign(child)
                copy.P = document
                new_children.append(copy)
        document.K = Array([*new_children, *document.K])
        if "/ParentTreeNextKey" in root:
            root.ParentTreeNextKey = next_key
    buf = io.BytesIO()
    # Object streams keep the tag tree's thousands of small objects compact.
    out.save(buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    out.close()
    return buf.getvalue()
