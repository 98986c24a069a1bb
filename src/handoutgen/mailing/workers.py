"""Rendering a batch's rows: in-process, in worker processes that are recycled
(flat memory), or on a dask.distributed cluster, with the same task function."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

from handoutgen.content.library import Library, load_library
from handoutgen.content.models import PERSONAL_FIELDS
from handoutgen.content.workspace import Workspace
from handoutgen.core import limits
from handoutgen.core.errors import DataError, HandoutgenError
from handoutgen.engine.raster import page_count
from handoutgen.mailing.recipients import (
    Recipient,
)
from handoutgen.mailing.settings import BatchSettings

log = logging.getLogger("handoutgen")


_WORKER: dict[str, Any] = {}
DASK_POLL = 2.0  # seconds between looks at a dask cluster that finished nothing


def clear_caches() -> None:
    _WORKER.clear()


def render_chunk(
    workspace_root: str,
    content_hash: str,
    document: str,
    items: list[tuple[str, int, dict[str, Any]]],
    allow_draft: bool,
    editions: bool = True,
) -> list[dict[str, Any]]:
    """Render a few recipients. Runs in a worker process or on a dask worker.

    Returns plain dicts (picklable, no exceptions) with the PDF bytes.
    """
    import resource

    from handoutgen.content.fonts import missing_glyphs
    from handoutgen.core.errors import RenderError
    from handoutgen.pipeline import Outcome, make_request, render, render_many

    library = _WORKER.get(workspace_root)
    if library is None or library.content_hash != content_hash:
        library = load_library(Workspace.at(workspace_root))
        _WORKER[workspace_root] = library
    if library.content_hash != content_hash:
        msg = "this worker sees different content than the client (is the workspace shared?)"
        return [{"id": i, "row": r, "error": msg} for i, r, _ in items]
    out: list[dict[str, Any]] = []
    requests: list[tuple[str, int, dict[str, Any], Any]] = []
    for rid, row, fields in items:
        try:
            requests.append((rid, row, fields, make_request(**fields, allow_draft=allow_draft)))
        except HandoutgenError as exc:
            out.append({"id": rid, "row": row, "error": exc.format_message()})
    try:
        if editions:
            # The client grouped these recipients: their set repays an edition.
            outcomes = render_many(library, [r for *_, r in requests])
        else:
            outcomes = []
            for *_, request in requests:
                try:
                    outcomes.append(Outcome(pdf=render(library, request, editions=False)))
                except HandoutgenError as exc:
                    outcomes.append(Outcome(error=exc))
    except Exception as exc:  # a bug must not lose the rest of the batch
        log.debug("chunk failed", exc_info=True)
        failure = RenderError(f"internal error: {type(exc).__name__}")
        outcomes = [Outcome(error=failure) for _ in requests]
    for (rid, row, fields, _), outcome in zip(requests, outcomes, strict=False):
        if outcome.error is not None:
            out.append({"id": rid, "row": row, "error": outcome.error.format_message()})
            continue
        if outcome.pdf is None:
            out.append({"id": rid, "row": row, "error": outcome.reason or "internal error"})
            continue
        personal = " ".join(str(fields.get(k) or "") for k in PERSONAL_FIELDS)
        out.append(
            {
                "id": rid,
                "row": row,
                "pdf": outcome.pdf,
                "pages": outcome.pages or page_count(outcome.pdf),
                "missing": missing_glyphs(personal),
                "mode": outcome.mode.value,
                "reason": outcome.reason if outcome.mode == "full" and editions else "",
            }
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for item in out:
        item["rss_kb"] = rss
    return out


def min_shared_rows() -> int:
    """Recipients of one set that repay building an edition (vdp.SHARED_MIN)."""
    from handoutgen.editions import vdp

    return vdp.SHARED_MIN


def _chunks(settings: BatchSettings, todo: list[Recipient], min_shared: int):
    """(chunk, use editions) pairs. With editions, recipients likely to share
    one are grouped; a group too small to repay building and checking its
    edition is rendered in full. Stable: the same input gives the same chunks."""
    items = [
        (r.id, r.row, r.request_fields(settings.document, settings.letter_date, settings.clinic))
        for r in todo
    ]
    size = settings.chunk
    if not settings.editions:
        for i in range(0, len(items), size):
            yield items[i : i + size], False
        return
    keys = [edition_group(item[2]) for item in items]
    groups: dict[tuple, list] = {}
    for key, item in zip(keys, items, strict=True):
        groups.setdefault(key, []).append(item)
    singles = [item for key, item in zip(keys, items, strict=True) if len(groups[key]) < min_shared]
    per_group = [
        [members[i : i + size] for i in range(0, len(members), size)]
        for _, members in sorted(groups.items(), key=lambda kv: repr(kv[0]))
        if len(members) >= min_shared
    ]
    # Round-robin over the groups: workers start on different editions, so
    # they build them side by side instead of waiting for each other.
    for round_ in range(max((len(c) for c in per_group), default=0)):
        for chunks in per_group:
            if round_ < len(chunks):
                yield chunks[round_], True
    for i in range(0, len(singles), 4):
        yield singles[i : i + 4], False


def edition_group(f: dict[str, Any]) -> tuple:
    """What decides a recipient's edition, short of rendering its template."""
    return (
        tuple(f.get("options") or ()),
        f.get("language") or "",
        f.get("page_size") or "",
        f.get("large_print") or False,
        bool(f.get("patient") or f.get("visit_date")),
        bool(f.get("note") or f.get("clinician")),
    )


def execute(
    library: Library, settings: BatchSettings, todo: list[Recipient]
) -> Generator[dict[str, Any], None, None]:
    if not todo:
        return
    root = str(library.workspace.root)
    args = (root, library.content_hash, settings.document)
    chunks = list(_chunks(settings, todo, min_shared_rows()))  # (items, use editions)
    if settings.scheduler:
        yield from _execute_dask(settings, args, chunks)
        return
    workers = settings.workers or os.cpu_count() or 1
    if workers == 1:
        _WORKER[root] = library
        for chunk, editions in chunks:
            yield from render_chunk(*args, chunk, settings.allow_draft, editions)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("spawn")  # no inherited WeasyPrint/fontconfig state
    per_child = max(1, settings.recycle // settings.chunk)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=ctx,
        max_tasks_per_child=per_child,
        initializer=_watch_parent,
        initargs=(os.getpid(), limits.current()),
    )
    finished_cleanly = False
    try:
        in_flight: dict = {}
        queue = iter(chunks)

        def submit(job: tuple[list, bool]) -> None:
            chunk, editions = job
            fut = pool.submit(render_chunk, *args, chunk, settings.allow_draft, editions)
            in_flight[fut] = chunk

        # Keep a bounded number of chunks in flight so results stream back.
        for chunk in queue:
            submit(chunk)
            if len(in_flight) >= workers * 2:
                break
        while in_flight:
            finished, _ = wait(set(in_flight), return_when=FIRST_COMPLETED)
            for fut in finished:
                yield from _chunk_result(fut, in_flight.pop(fut))
                nxt = next(queue, None)
                if nxt is not None:
                    submit(nxt)
        finished_cleanly = True
    finally:
        if not finished_cleanly:
            # Interrupted (Ctrl-C, SIGTERM, an error while writing): stop the
            # workers now rather than let them finish chunks nobody will write.
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        # Waiting (the workers are stopped, so it is quick) lets the pool close
        # its queues: leaving them to exit is what the resource tracker
        # reports as "leaked semaphore objects".
        pool.shutdown(wait=True, cancel_futures=True)


def _watch_parent(parent: int, given: dict[str, float] | None = None) -> None:
    """Worker start-up: exit as soon as the batch process is gone, so a killed
    parent (even ``kill -9``) never leaves workers rendering patient letters.
    Ctrl-C reaches the whole process group: the parent alone handles it
    (stops the workers, reports), instead of a traceback from every worker.
    The limits the batch was given apply here too, and a cap on the worker's
    memory (a template building a huge list fails its rows, not the machine)."""
    import signal

    limits.apply(given or {})
    limits.cap_memory()

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _chunk_result(fut, chunk) -> list[dict[str, Any]]:  # noqa: ANN001
    try:
        return fut.result()
    except Exception as exc:  # a worker died: its rows fail, the batch goes on
        return [
            {"id": i, "row": r, "error": f"worker failed: {type(exc).__name__}"}
            for i, r, _ in chunk
        ]


def _execute_dask(settings: BatchSettings, args: tuple, chunks: list) -> Iterator[dict[str, Any]]:
    try:
        from dask import distributed
        from dask.distributed import Client
    except ImportError:
        raise DataError(
            "--scheduler needs dask.distributed: pip install 'handoutgen[cluster]'"
        ) from None
    try:
        client = Client(settings.scheduler, timeout=10)
    except OSError as exc:
        raise DataError(f"cannot reach the dask scheduler at {settings.scheduler}: {exc}") from None
    try:
        futures = {}
        for chunk, editions in chunks:
            fut = client.submit(
                render_chunk, *args, chunk, settings.allow_draft, editions, pure=False
            )
            futures[fut] = chunk
        pending = set(futures)
        idle_since: float | None = None
        while pending:
            # A cluster whose last worker died never finishes its tasks: wait
            # in short steps and give up once it has had no worker for a while.
            try:
                done, pending = distributed.wait(
                    list(pending), timeout=DASK_POLL, return_when="FIRST_COMPLETED"
                )
            except (TimeoutError, distributed.TimeoutError):
                done = set()
            for fut in done:
                yield from _chunk_result(fut, futures[fut])
            if done or client.scheduler_info().get("workers"):
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settings.dask_idle_limit:
                rows = sum(len(futures[f]) for f in pending)
                raise DataError(
                    f"the dask cluster at {settings.scheduler} has had no workers for "
                    f"{settings.dask_idle_limit:.0f} s; {rows} row{'s' if rows != 1 else ''} "
                    f"{'was' if rows == 1 else 'were'} not rendered. Start "
                    "workers (or check why they died), then run the same command again "
                    "with --resume"
                )
    finally:
        client.close()
