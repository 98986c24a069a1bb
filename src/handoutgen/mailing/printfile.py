"""The merged print file: every recipient in order, padded for duplex, with
shared objects stored once."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from pathlib import Path
from typing import Any

from handoutgen.core.output import write_atomic

log = logging.getLogger("handoutgen")


def merge_for_duplex(paths: list[Path], target: Path) -> int:
    """One print file in the given order; each recipient padded to an even page
    count so every recipient starts on a new sheet when printed duplex.

    Identical objects (an edition's page content, fonts and images, shared by
    every recipient of that edition) are stored once: the print file holds each
    edition once plus each recipient's thin personal layer."""
    return PrintFile().write(paths, target)


class PrintFile:
    """A merged print file built as the PDFs come in (a batch copies each one
    while the workers render the next), written in the recipients' order at
    the end. The bytes do not depend on the order PDFs were added: the writer
    numbers objects as it walks the pages."""

    def __init__(self) -> None:
        import pikepdf

        self.merged = pikepdf.Pdf.new()
        self.interner = _Interner(self.merged)
        # path -> its pages in the merged file, and the page size of its padding page
        self.copied: dict[Path, tuple[list[Any], tuple[float, float] | None]] = {}

    def add(self, path: Path, data: bytes | None = None) -> None:
        """Copy a recipient's PDF (``data``: its bytes, as written to ``path``)."""
        import pikepdf

        with pikepdf.open(io.BytesIO(data) if data is not None else path) as src:
            memo: dict[tuple[int, int], Any] = {}
            pages = [self.interner.page(page.obj, memo) for page in src.pages]
            pad = None
            if len(src.pages) % 2:
                box = src.pages[-1].mediabox
                pad = (float(box[2]), float(box[3]))
        self.copied[path] = (pages, pad)

    def write(self, paths: list[Path], target: Path) -> int:
        """Write the print file of ``paths``, in that order (copying any not added yet)."""
        import pikepdf

        for path in paths:
            if path not in self.copied:
                self.add(path)
        for path in paths:
            pages, pad = self.copied[path]
            for page in pages:
                self.merged.pages.append(page)
            if pad is not None:
                self.merged.add_blank_page(page_size=pad)
        # Object streams group objects in the order they were made, which is
        # the order the PDFs came in: a first save numbers them as the pages
        # are walked, so the file's bytes depend only on its content.
        plain = io.BytesIO()
        self.merged.save(
            plain, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.disable
        )
        count = len(self.merged.pages)
        with pikepdf.open(plain) as walked:
            buf = io.BytesIO()
            walked.save(
                buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate
            )
        write_atomic(target, buf.getvalue())
        return count


# An indirect reference in an object's written form ("12 0 R"); a string that
# merely looks like one only sends the object the slower way.
_REFERENCE = re.compile(rb"\d+\s+\d+\s+R\b")


class _Interner:
    """Copies PDF objects into one file, content-addressed: an object equal to
    one already copied (same bytes, same keys, equal children) is reused."""

    _PAGE_KEYS = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate")

    def __init__(self, target) -> None:  # noqa: ANN001
        self.target = target
        self.by_digest: dict[bytes, Any] = {}

    def page(self, page, memo: dict):  # noqa: ANN001, ANN201
        import pikepdf

        # Only what is drawn: the print file needs no tags, links or metadata.
        new = pikepdf.Dictionary(Type=pikepdf.Name.Page)
        for key in self._PAGE_KEYS:
            if key in page:
                new[key] = self.copy(page[key], memo)[0]
        new.Resources = self.copy(page.get("/Resources", pikepdf.Dictionary()), memo)[0]
        if "/Contents" in page:
            new.Contents = self.copy(page.Contents, memo)[0]
        return pikepdf.Page(self.target.make_indirect(new))

    def copy(self, obj, memo: dict) -> tuple[Any, bytes]:  # noqa: ANN001
        """(the copy in the target, its digest)."""
        import pikepdf

        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            key = obj.objgen
            if key in memo:
                if memo[key] is None:  # a cycle: resources never have one, but be safe
                    return self.target.copy_foreign(obj), hashlib.sha256(
                        repr(key).encode()
                    ).digest()
                return memo[key]
            memo[key] = None
        h = hashlib.sha256()
        if isinstance(obj, pikepdf.Stream):
            raw = obj.read_raw_bytes()
            items = {k: self.copy(v, memo) for k, v in obj.items() if k not in ("/Length",)}
            h.update(b"S")
            for k in sorted(items):
                h.update(k.encode() + items[k][1])
            h.update(hashlib.sha256(raw).digest())
            digest = h.digest()
            made = self.by_digest.get(digest)
            if made is None:
                made = pikepdf.Stream(self.target, b"")
                filters = items.pop("/Filter", (None, b""))[0]
                parms = items.pop("/DecodeParms", (None, b""))[0]
                made.write(raw, filter=filters, decode_parms=parms, type_check=False)
                for k, (v, _) in items.items():
                    made[k] = v
                self.by_digest[digest] = made
        elif (
            isinstance(obj, (pikepdf.Array, pikepdf.Dictionary))
            and _REFERENCE.search(raw := obj.unparse(resolved=True)) is None
        ):
            # Nothing inside points elsewhere (a font's glyph widths, a box):
            # its written form is its content, copied and hashed in one go
            # instead of number by number (most of a letter's objects).
            made = pikepdf.Object.parse(raw)
            digest = hashlib.sha256(b"U" + raw).digest()
        elif isinstance(obj, pikepdf.Dictionary):
            items = {k: self.copy(v, memo) for k, v in obj.items()}
            h.update(b"D")
            for k in sorted(items):
                h.update(k.encode() + items[k][1])
            digest = h.digest()
            made = pikepdf.Dictionary({k: v for k, (v, _) in items.items()})
        elif isinstance(obj, pikepdf.Array):
            parts = [self.copy(v, memo) for v in obj]
            h.update(b"A")
            for _, d in parts:
                h.update(d)
            digest = h.digest()
            made = pikepdf.Array([v for v, _ in parts])
        else:
            # Scalars: Names and Strings are recreated (they carry their owner).
            if isinstance(obj, pikepdf.Name):
                obj = pikepdf.Name(str(obj))
            elif isinstance(obj, pikepdf.String):
                obj = pikepdf.String(bytes(obj))
            value = obj.unparse() if isinstance(obj, pikepdf.Object) else repr(obj).encode()
            h.update(type(obj).__name__.encode() + b":" + value)
            return obj, h.digest()
        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            if not isinstance(obj, pikepdf.Stream):
                # Indirect or not is part of what is copied: equal digests must
                # mean equal bytes, whichever PDF came first.
                digest = hashlib.sha256(b"I" + digest).digest()
                existing = self.by_digest.get(digest)
                if existing is None:
                    existing = self.by_digest[digest] = self.target.make_indirect(made)
                made = existing
            memo[obj.objgen] = (made, digest)
        return made, digest
