"""Page-assembly helpers for editions (vdp.py), with pikepdf: stamp an overlay
on a page as an artifact, and give a page copied from another file its tag
entries."""

from __future__ import annotations

from typing import Any


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
