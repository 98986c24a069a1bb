"""The web app's renders, in a pool of worker processes with a bounded queue.

Each request waits for a slot; when every worker is busy and the queue is
full the request is refused at once (``Busy``: the page says "try again in a
moment", 503 with Retry-After) instead of waiting behind an endless line.
Workers are separate processes (WeasyPrint holds the GIL), started with
``spawn`` so they inherit no fontconfig or WeasyPrint state, and recycled
after a number of renders to bound their memory. Jobs and results are plain
dicts: a worker loads the workspace itself and checks that it sees the same
content (hash) as the server did when it checked the form.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

log = logging.getLogger("handoutgen")

_LIBRARIES: dict[str, Any] = {}  # per worker process: workspace root -> Library


class Busy(Exception):
    """Every worker is busy and the queue is full (or a render took too long)."""

    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _library(root: str, content_hash: str):  # noqa: ANN202
    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace
    from handoutgen.core.errors import HandoutgenError

    library = _LIBRARIES.get(root)
    if library is None or library.content_hash != content_hash:
        workspace = Workspace.at(root)
        library = load_library(workspace)
        _LIBRARIES[root] = library
    if library.content_hash != content_hash:
        raise HandoutgenError(
            "the content changed while this handout was being made; send the form again"
        )
    return library


def png_pages(pdf: bytes, dpi: int = 64) -> list[str]:
    """Each page as a PNG data URI (nothing is written to disk)."""
    import base64

    from handoutgen.engine.raster import page_pngs

    return [
        "data:image/png;base64," + base64.b64encode(png).decode() for png in page_pngs(pdf, dpi)
    ]


def render_job(root: str, content_hash: str, fields: dict[str, Any], images: bool) -> dict:
    """Render one handout (in a worker). Returns the PDF, page images if asked,
    whether its edition was missing, the language; or the error's message."""
    from handoutgen.core.errors import HandoutgenError
    from handoutgen.pipeline import make_request, plan, render_one

    try:
        library = _library(root, content_hash)
        p = plan(library, make_request(**fields))  # resolved once, passed down
        outcome = render_one(library, p)
        assert outcome.pdf is not None  # render_one raises rather than return no PDF
        return {
            "pdf": outcome.pdf,
            "pages": outcome.pages or _page_count(outcome.pdf),
            "mode": outcome.mode.value,
            "missed": outcome.fallback is not None and outcome.fallback.missed,
            "language": p.language,
            "images": png_pages(outcome.pdf) if images else [],
        }
    except HandoutgenError as exc:
        return {"error": exc.format_message()}


def edition_job(root: str, content_hash: str, fields: dict[str, Any]) -> bool:
    """Build (and cache on disk) the edition a request would use. True if there is one."""
    from handoutgen.core.errors import HandoutgenError
    from handoutgen.pipeline import make_request, warm_edition

    try:
        library = _library(root, content_hash)
        return warm_edition(library, make_request(**fields))
    except HandoutgenError:
        return False


def _page_count(pdf: bytes) -> int:
    from handoutgen.engine.raster import page_count

    return page_count(pdf)


TMP_PREFIX = "handoutgen-workers-"


def _worker_init(tmp: str | None = None) -> None:
    """In each worker: temporary files (WeasyPrint's ``weasyprint-*`` folders)
    go to a folder of the pool's, removed when its workers are stopped, even
    killed; and end with the server, even if the server is killed outright
    (a watchdog, since the kernel's parent-death signal follows the thread that
    started the worker, not the server process)."""
    if tmp:
        import tempfile

        os.environ["TMPDIR"] = tempfile.tempdir = tempfile.mkdtemp(dir=tmp)
    parent = os.getppid()

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="handoutgen-watchdog").start()


def _ready() -> int:
    """Import the heavy parts so a worker's first render is not slower."""
    from handoutgen.engine import weasy  # noqa: F401

    weasy.preload()

    return os.getpid()


DEFAULT_TIMEOUT = 120.0


def render_timeout() -> float:
    """Seconds a web render may take before its worker is stopped
    (``HANDOUTGEN_RENDER_TIMEOUT``; the template step has its own, shorter budget)."""
    try:
        value = float(os.environ.get("HANDOUTGEN_RENDER_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def clean_stale_tmp() -> None:
    """Remove the worker folders of servers that are gone (killed outright)."""
    import shutil
    import tempfile

    for folder in Path(tempfile.gettempdir()).glob(TMP_PREFIX + "*"):
        pid = folder.name[len(TMP_PREFIX) :].split("-", 1)[0]
        try:
            if folder.lstat().st_uid != os.geteuid() or not pid.isdigit():
                continue
            os.kill(int(pid), 0)  # still running: not ours to remove
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


class RenderPool:
    """``workers`` processes (0: one thread in this process, for tests), and at
    most ``queue`` requests waiting beyond those being rendered."""

    def __init__(
        self, workers: int, queue: int, *, timeout: float | None = None, recycle: int = 200
    ):
        self.workers = workers
        self.capacity = max(1, workers) + max(0, queue)
        self.timeout = timeout if timeout is not None else render_timeout()
        self._recycle = recycle
        self._lock = threading.Lock()
        self._in_flight = 0
        self._background: set[str] = set()
        self._pending: dict[str, tuple[Callable, tuple]] = {}  # insertion order: oldest first
        self._executor: Executor | None = None
        self._closed = False

    # A separate method so tests can hold a slot without rendering anything.
    def try_acquire(self) -> bool:
        with self._lock:
            if self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._drain()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _get_executor(self) -> Executor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the render pool is closed")
            if self._executor is None:
                if self.workers <= 0:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="handoutgen-render")
                else:
                    import multiprocessing
                    import tempfile
                    from concurrent.futures import ProcessPoolExecutor

                    tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-")
                    self._executor = ProcessPoolExecutor(
                        self.workers,
                        mp_context=multiprocessing.get_context("spawn"),
                        max_tasks_per_child=self._recycle,
                        initializer=_worker_init,
                        initargs=(tmp,),
                    )
                    self._executor._handoutgen_tmp = tmp  # type: ignore[attr-defined]
            return self._executor

    def start(self) -> None:
        """Start the workers now rather than on the first request."""
        clean_stale_tmp()
        if self.workers > 0:
            ex = self._get_executor()
            for _ in range(self.workers):
                ex.submit(_ready)

    def _submit(self, fn: Callable, *args: Any) -> Future:
        try:
            return self._get_executor().submit(fn, *args)
        except (BrokenProcessPool, RuntimeError):
            if self._closed:
                raise
            # A worker died (out of memory, killed): start a fresh pool once.
            log.warning("a render worker stopped; starting new workers")
            self._reset()
            return self._get_executor().submit(fn, *args)

    def run(self, fn: Callable, *args: Any) -> Any:
        """Run a job in a worker and wait for it; ``Busy`` if there is no room."""
        if not self.try_acquire():
            raise Busy(5, "Every worker is busy and the queue is full.")
        try:
            future = self._submit(fn, *args)
        except BaseException:
            self.release()
            raise
        future.add_done_callback(lambda _f: self.release())
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            # A stuck worker would hold its slot (and a core) for ever: end it.
            log.warning("a render ran over %g seconds; stopping its worker", self.timeout)
            self._stop_workers()
            raise Busy(30, "This render is taking too long.") from None
        except BrokenProcessPool:
            if self._closed:  # the server is stopping: its workers were ended on purpose
                raise Busy(5, "The server is restarting.") from None
            log.warning("a render worker stopped unexpectedly; starting new workers")
            self._reset()
            raise Busy(2, "A render worker stopped unexpectedly.") from None

    @staticmethod
    def _remove_tmp(ex: Executor) -> None:
        import shutil

        tmp = getattr(ex, "_handoutgen_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    def _stop_workers(self) -> None:
        """End every worker of the current executor (a fresh one starts on the
        next job; renders in flight on the others get "try again")."""
        if self.workers <= 0:
            return  # a thread cannot be stopped; its template budget ends it
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is None:
            return
        processes = list((getattr(ex, "_processes", None) or {}).values())
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.join(timeout=5)
        ex.shutdown(wait=False, cancel_futures=True)
        self._remove_tmp(ex)

    def _reset(self) -> None:
        """Replace a broken executor (only a broken one: requests failing at the
        same moment must not shut down the fresh pool another one started)."""
        with self._lock:
            old = self._executor
            if old is None or not getattr(old, "_broken", True):
                return
            self._executor = None
        old.shutdown(wait=False, cancel_futures=True)
        self._remove_tmp(old)

    def background(self, key: str, fn: Callable, *args: Any) -> bool:
        """Run a job nobody waits for (an edition build) in an idle worker: now
        if one is idle, else as soon as one is (at most 64 waiting; a key
        already running or waiting is not added twice)."""
        with self._lock:
            if key in self._background or key in self._pending:
                return False
            self._pending[key] = (fn, args)
            while len(self._pending) > 64:
                self._pending.pop(next(iter(self._pending)))
        self._drain()
        return True

    def _drain(self) -> None:
        """Start waiting background jobs while workers are idle. A build must
        never take a clinician's place, so only below ``workers`` in flight."""
        while True:
            with self._lock:
                if self._closed or not self._pending or self._in_flight >= max(1, self.workers):
                    return
                key = next(iter(self._pending))
                fn, args = self._pending.pop(key)
                self._background.add(key)
                self._in_flight += 1

            def done(f: Future, key: str = key) -> None:
                with self._lock:
                    self._background.discard(key)
                    self._in_flight -= 1
                if not f.cancelled() and f.exception() is not None:
                    log.debug("background job failed: %s", type(f.exception()).__name__)
                self._drain()

            try:
                self._submit(fn, *args).add_done_callback(done)
            except Exception:  # noqa: BLE001 - a warm-up must never take the server down
                failed: Future = Future()
                failed.set_result(None)
                done(failed)
                return

    def open(self) -> None:
        """Accept work again after ``close`` (an app started a second time)."""
        with self._lock:
            self._closed = False
        clean_stale_tmp()

    def close(self) -> None:
        """Stop now: queued jobs are cancelled and running renders ended (their
        clients are gone; an edition half-built is never stored)."""
        with self._lock:
            self._closed = True
            ex, self._executor = self._executor, None
        if ex is None:
            return
        # The executor has no public way to end running work; without this an
        # edition build would hold up Ctrl-C for as long as it takes.
        processes = list((getattr(ex, "_processes", None) or {}).values())
        ex.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.join(timeout=5)
        # With its workers gone the executor's manager thread notices at once;
        # waiting for it frees the queues' semaphores (no leak warning at exit).
        ex.shutdown(wait=True)
        self._remove_tmp(ex)
