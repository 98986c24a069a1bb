"""Variable-data rendering: lay out the shared pages once, stamp each recipient on top.

A template marks what is personal (render/marks.py). A *split* render gives the
edition HTML, rendered from stand-in personas so it holds no patient data, and
the request's personal parts. An edition is laid out and written once and
cached on disk, keyed by a hash of its HTML (which inlines the content,
templates and styles), the content hash (which covers assets and handoutgen's
version) and WeasyPrint's version.

Recipients are then laid out many per WeasyPrint document: their personal
pages and their overlays. An edition page with slot boxes takes an overlay of
its own (running header, "Page X of Y" and the slots at their placeholders'
positions); any other page takes the recipient's running header (laid out
once, the same on every page) and "Page X of Y" (laid out once per chunk: it
holds no personal data). pikepdf stamps the overlays on a copy of the
edition's pages and merges the letter's tag tree into the edition's, so the
result reads like a full render.

Whenever it might not, that recipient gets a full render and the outcome says
why (:class:`Fallback`). An edition is used only once *verified*: its
self-check assembled a stand-in recipient and found the same words, page by
page and in reading order, as that recipient's full render.

This module is below the pipeline (pipeline.py): the content gate's verdict
comes in as ``draft``, and WeasyPrint is reached only through engine/weasy.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from handoutgen.content.library import Library
from handoutgen.content.models import RenderRequest
from handoutgen.core.errors import HandoutgenError
from handoutgen.editions import edition, splitting
from handoutgen.editions.edition import cached_edition, get_edition, may_have_editions
from handoutgen.editions.model import Fallback, Mode, Outcome, Split
from handoutgen.editions.personal import personalize
from handoutgen.editions.splitting import ineligible, split
from handoutgen.render.context import Plan, plan
from handoutgen.render.fullrender import render_pdf

log = logging.getLogger("handoutgen")

__all__ = [
    "SHARED_MIN",
    "Fallback",
    "Job",
    "Mode",
    "Outcome",
    "Split",
    "cached_edition",
    "clear_caches",
    "get_edition",
    "ineligible",
    "render_many",
    "split",
]

# -- entry points -----------------------------------------------------------------------------


@dataclass
class Job:
    request: RenderRequest | Plan  # resolved once (render/context.py plan), then a Plan
    draft: bool = False
    split: Split | None = None
    outcome: Outcome = field(default_factory=Outcome)


def render_many(
    library: Library,
    requests: Sequence[RenderRequest | Plan],
    *,
    drafts: list[bool] | None = None,
    build: bool = True,
) -> list[Outcome]:
    """PDFs for many requests that passed the content gate (``drafts``: its
    verdicts), sharing editions where it is safe.

    ``build=False`` uses only editions already cached and renders the rest in
    full (a single render after a batch or a web app warm-up is fast; a cold
    single render is no slower than before)."""
    jobs = [Job(r, d) for r, d in zip(requests, drafts or [False] * len(requests), strict=True)]
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        try:
            p = job.request = plan(library, job.request)
            why = ineligible(library, p)
            if why:
                job.outcome.fall_back(Fallback.INELIGIBLE, why)
                continue
            if job.draft:
                job.outcome.fall_back(Fallback.DRAFT)
                continue
            if not build and not may_have_editions(library, p.document.id):
                job.outcome.fall_back(Fallback.NOT_CACHED)
                continue
            job.split = split(library, p, draft=job.draft)
        except HandoutgenError as exc:
            job.outcome = Outcome(error=exc)
            continue
        if job.split.fallback is not None:
            job.outcome.fall_back(job.split.fallback, job.split.detail)
        else:
            groups.setdefault(job.split.key, []).append(job)
    for members in groups.values():
        _render_group(library, members, build)
    for job in jobs:
        o = job.outcome
        if o.pdf is None and o.error is None:
            try:
                o.pdf = render_pdf(library, job.request, draft=job.draft)
                o.mode = Mode.FULL
            except HandoutgenError as exc:
                o.error = exc
    return [j.outcome for j in jobs]


# An edition of its own pays off from this many recipients with one option set
# (batch.py renders smaller sets in full). Building and checking it costs about
# three full renders (3.3 s), and each recipient stamped on it 0.11 s, against
# 1.05 s for a full render.
SHARED_MIN = 3


def _render_group(library: Library, members: list[Job], build: bool) -> None:
    """Recipients of one edition: stamped on it if it exists (or is built) and is usable."""
    first = members[0].split
    assert first is not None
    try:
        edition = get_edition(library, first, build=build)
    except HandoutgenError as exc:
        for job in members:
            job.outcome = Outcome(error=exc)
        return
    if edition is None or not edition.usable:
        cause = Fallback.NOT_CACHED if edition is None else edition.fallback
        for job in members:
            job.outcome.fall_back(cause or Fallback.UNVERIFIED)
        return
    splits = [j.split for j in members if j.split is not None]
    for job, outcome in zip(members, personalize(library, edition, splits), strict=True):
        job.outcome = outcome


def clear_caches() -> None:
    """Forget the editions and stand-in renders kept in memory."""
    edition.clear_caches()
    splitting.clear_caches()
