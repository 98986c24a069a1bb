"""Editions: built once, verified against a full render, kept in memory and on
disk under one build lock."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import OrderedDict

from handoutgen.content.library import Library
from handoutgen.editions.model import FORMAT, Edition, Fallback, Split
from handoutgen.editions.personal import personalize
from handoutgen.editions.splitting import split
from handoutgen.engine.readback import page_words
from handoutgen.engine.weasy import (
    layout,
    marked_boxes,
    write_pdf,
)
from handoutgen.render.fullrender import render_pdf
from handoutgen.render.marks import (
    PAGE_REFS,
    SLOT_ATTR,
)
from handoutgen.render.standins import stand_in

log = logging.getLogger("handoutgen")


_MEMORY: OrderedDict[str, Edition] = OrderedDict()
_MEMORY_SIZE = 24


def clear_caches() -> None:
    _MEMORY.clear()
    _BUILT.clear()


def _remember(edition: Edition) -> Edition:
    _MEMORY[edition.key] = edition
    _MEMORY.move_to_end(edition.key)
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return edition


def _pack(edition: Edition) -> bytes:
    meta = json.dumps(edition.meta(), sort_keys=True).encode()
    return meta + b"\n" + edition.pdf


def _unpack(key: str, payload: bytes) -> Edition:
    head, _, pdf = payload.partition(b"\n")
    meta = json.loads(head)
    if meta.get("format") != FORMAT or meta.get("key") != key:
        raise ValueError("wrong format or key")
    if hashlib.sha256(pdf).hexdigest() != meta["sha256"]:
        raise ValueError("checksum mismatch")
    slots = {int(k): [float(x) for x in v] for k, v in meta["slots"].items()}
    fallback = Fallback[meta["fallback"]] if meta.get("fallback") else None
    anchors = {str(k): int(v) for k, v in meta.get("anchors", {}).items()}
    return Edition(key, pdf, int(meta["pages"]), slots, bool(meta["verified"]), fallback, anchors)


def cached_edition(key: str) -> Edition | None:
    """The edition from memory or disk. A disk entry is authenticated by the
    cache's HMAC (cache.py): a forged or damaged one is reported and missing."""
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    from handoutgen.store.cache import open_cache

    store = open_cache()
    payload = store.get("editions", key) if store is not None else None
    if payload is None:
        return None
    try:
        edition = _unpack(key, payload)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("edition %s in the cache is damaged (%s); building it again", key[:12], exc)
        return None
    return _remember(edition)


def _store(edition: Edition, store) -> None:  # noqa: ANN001 - a cache.Cache
    try:
        store.put("editions", edition.key, _pack(edition))
    except OSError as exc:
        log.debug("edition not cached (%s)", exc)


@contextlib.contextmanager
def _build_lock(key: str):  # noqa: ANN202
    """Workers that need the same edition wait for one to build it. Yields the
    cache to store the result in, or None (no cache, or its lock is unsafe)."""
    from handoutgen.store.cache import open_cache

    store = open_cache()
    if store is None:
        yield None
        return
    with store.lock("editions", key) as usable:
        yield store if usable else None


def get_edition(library: Library, s: Split, *, build: bool = True) -> Edition | None:
    edition = cached_edition(s.key)
    if edition is not None or not build:
        return edition
    with _build_lock(s.key) as store:
        edition = cached_edition(s.key)  # another worker may have built it meanwhile
        if edition is None:
            edition = _remember(build_edition(library, s))
            if store is not None:
                _store(edition, store)
        _note_built(library, s.request.document, store)
    return edition


# Which documents have editions built for this content: a single render with
# nothing built for its document goes straight to a full render, without
# rendering its template for two stand-ins first to find the edition's key.
_BUILT: set[str] = set()


def _index_key(library: Library, doc_id: str) -> str:
    return f"{library.content_hash} {doc_id}"


def _note_built(library: Library, doc_id: str, store) -> None:  # noqa: ANN001 - a cache.Cache
    key = _index_key(library, doc_id)
    if key in _BUILT:
        return
    _BUILT.add(key)
    if store is not None:
        try:
            store.put("edition-index", key, b"1")
        except OSError as exc:
            log.debug("edition index not written (%s)", exc)


def may_have_editions(library: Library, doc_id: str) -> bool:
    """False only when no edition was ever built for this document and content
    (in this process or in the cache): then there is none to look up."""
    key = _index_key(library, doc_id)
    if key in _BUILT:
        return True
    from handoutgen.store.cache import open_cache

    store = open_cache()
    if store is not None and store.get("edition-index", key) is not None:
        _BUILT.add(key)
        return True
    return False


def build_edition(library: Library, s: Split) -> Edition:
    """Lay out and write the shared pages, then check them against a full render."""
    assert s.shared_request is not None
    document = layout(library, s.edition_html)
    slots: dict[int, list[float]] = {}
    fallback = None
    for page_index, page in enumerate(document.pages):
        for index, (x, y, w, h) in marked_boxes(page, SLOT_ATTR):
            if index in slots:
                fallback = Fallback.BOX_SPLIT
            slots[index] = [page_index, x, y, w, h]
    anchors: dict[str, int] = {}  # the first page of each id a letter refers to
    for page_index, page in enumerate(document.pages):
        for name in set(page.anchors) & set(PAGE_REFS.values()):
            anchors.setdefault(name, page_index)
    pdf = write_pdf(document, library, s.shared_request.pdf_variant)
    edition = Edition(s.key, pdf, len(document.pages), slots, fallback=fallback, anchors=anchors)
    if fallback is None:
        edition.verified, edition.fallback = _self_check(library, edition, s)
    if not edition.usable:
        assert edition.fallback is not None
        log.info("edition %s renders in full: %s", s.key[:12], edition.fallback.text())
    return edition


def _self_check(library: Library, edition: Edition, s: Split) -> tuple[bool, Fallback | None]:
    """(verified, why not usable): assemble the second stand-in persona and
    compare it, page by page and in reading order, with its full render.
    Catches templates whose margin boxes or personal parts do not follow the
    conventions this module relies on. No real request is involved. An edition
    whose probe cannot be assembled is not verified, so it is not used."""
    assert s.shared_request is not None
    probe = stand_in(s.shared_request, 1)
    if probe.note:
        # Persona B's two-paragraph note outgrows the note box's minimum height
        # (that recipient would rightly render in full); the probe must fit.
        probe = probe.model_copy(update={"note": "A different stand-in note."})
    # The probe differs only in personal fields: the request's plan serves it.
    probe_plan = s.plan.personal(probe) if s.plan is not None else probe
    ps = split(library, probe_plan, draft=s.draft)
    if ps.key != s.key or ps.fallback is not None:
        return False, Fallback.UNVERIFIED
    outcome = personalize(library, edition, [ps])[0]
    if outcome.pdf is None:
        return False, Fallback.UNVERIFIED
    full = render_pdf(library, probe_plan, draft=s.draft)
    if page_words(outcome.pdf) != page_words(full):
        return True, Fallback.SELF_CHECK
    return True, None
