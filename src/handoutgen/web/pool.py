"""The web app's renders, in a pool of worker processes with a bounded queue.

Each request waits for a slot; when every worker is busy and the queue is
full the request is refused at once (``Busy``: the page says "try again in a
moment", 503 with Retry-After) instead of waiting behind an endless line.
Workers are separate processes (WeasyPrint holds the GIL), started with
``spawn`` so they inherit no fontconfig or WeasyPrint state, and recycled
after a number of renders to bound their memory. Each sits in an executor
of its own: a render stuck past the timeout, or out of memory (the OS caps
each worker, core/limits.py), stops and replaces its worker alone. Jobs and results are plain
dicts: a worker loads the workspace itself and checks that it sees the same
content (hash) as the server did when it checked the form.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
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
    from handoutgen.content.templating import OutOfMemory
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
    except OutOfMemory as exc:
        return {"error": exc.format_message(), "replace": True}
    except MemoryError:  # past the worker's cap outside the template (the layout)
        from handoutgen.core import limits

        return {
            "error": f"this handout used too much memory (over the {limits.memory_cap_mb()} MB "
            "a render may use; --template-max-mb or HANDOUTGEN_TEMPLATE_MAX_MB sets the limit)",
            "replace": True,
        }
    except HandoutgenError as exc:
        return {"error": exc.format_message()}


def edition_job(root: str, content_hash: str, fields: dict[str, Any]) -> bool:
    """Build (and cache on disk) the edition a request would use. True if there is one."""
    from handoutgen.content.templating import OutOfMemory
    from handoutgen.core.errors import HandoutgenError
    from handoutgen.pipeline import make_request, warm_edition

    try:
        library = _library(root, content_hash)
        return warm_edition(library, make_request(**fields))
    except OutOfMemory:
        raise MemoryError from None  # the pool replaces this worker
    except HandoutgenError:
        return False


def _page_count(pdf: bytes) -> int:
    from handoutgen.engine.raster import page_count

    return page_count(pdf)


TMP_PREFIX = "handoutgen-workers-"


def _worker_init(tmp: str | None = None, given: dict[str, float] | None = None) -> None:
    """In each worker: the limits the server was given, and a cap on its
    memory (a template that builds a huge list fails with MemoryError, not the
    machine). Temporary files (WeasyPrint's ``weasyprint-*`` folders) go to a
    folder of its own, removed when it is stopped, even killed; and it ends
    with the server, even if the server is killed outright (a watchdog, since
    the kernel's parent-death signal follows the thread that started the
    worker, not the server process)."""
    from handoutgen.core import limits

    limits.apply(given or {})
    limits.cap_memory()
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


class _Worker:
    """One worker: a process in an executor of its own (or, with no worker
    processes, a thread), so a stuck or exhausted one is stopped and replaced
    while the others' renders go on."""

    def __init__(self, executor: Executor, tmp: str | None) -> None:
        self.executor = executor
        self.tmp = tmp

    def processes(self) -> list[Any]:
        return list((getattr(self.executor, "_processes", None) or {}).values())

    @property
    def broken(self) -> bool:
        return bool(getattr(self.executor, "_broken", False))

    def stop(self) -> None:
        """End its process now (queued work is cancelled); remove its files."""
        processes = self.processes()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        # With its process gone the executor's manager thread notices at once;
        # waiting for it frees the queues' semaphores (no leak warning at exit).
        if processes:
            self.executor.shutdown(wait=True)
        if self.tmp:
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)


class RenderPool:
    """``workers`` processes (0: one thread in this process, for tests), and at
    most ``queue`` requests waiting beyond those being rendered."""

    def __init__(
        self, workers: int, queue: int, *, timeout: float | None = None, recycle: int = 200
    ):
        from handoutgen.core import limits

        self.workers = workers
        self.capacity = max(1, workers) + max(0, queue)
        self.timeout = timeout if timeout is not None else limits.get("render_timeout")
        self._limits = limits.current()  # handed to each worker process
        self._recycle = recycle
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)  # a worker came back
        self._in_flight = 0
        self._background: set[str] = set()
        self._pending: dict[str, tuple[Callable, tuple]] = {}  # insertion order: oldest first
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0  # workers being made (counted against ``workers``)
        self._waiters: deque[object] = deque()  # requests waiting for a worker, in order
        self._tmp: str | None = None
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

    def processes(self) -> list[Any]:
        """The worker processes now running (for tests and diagnostics)."""
        with self._lock:
            workers = list(self._all)
        return [proc for w in workers for proc in w.processes()]

    def _new_worker(self) -> _Worker:
        if self.workers <= 0:
            return _Worker(ThreadPoolExecutor(1, thread_name_prefix="handoutgen-render"), None)
        import multiprocessing
        import tempfile
        from concurrent.futures import ProcessPoolExecutor

        with self._lock:
            if self._tmp is None:
                self._tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-")
            tmp = tempfile.mkdtemp(prefix="w", dir=self._tmp)
        executor = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=self._recycle,
            initializer=_worker_init,
            initargs=(tmp, self._limits),
        )
        return _Worker(executor, tmp)

    def _checkout(self, *, wait: bool) -> _Worker | None:
        """An idle worker, a new one while there are fewer than ``workers``, or
        (``wait``) the next one to come back, first come first served (a
        warm-up that loops on ``run`` must not overtake a clinician waiting);
        None if there is none now and not ``wait``."""
        me = object()
        with self._free:
            if wait:
                self._waiters.append(me)
            try:
                while True:
                    if self._closed:
                        raise RuntimeError("the render pool is closed")
                    first = self._waiters[0] is me if wait else not self._waiters
                    if first and self._idle:
                        return self._idle.pop()
                    if first and len(self._all) + self._starting < max(1, self.workers):
                        self._starting += 1
                        break
                    if not wait:
                        return None
                    self._free.wait()
            finally:
                if wait:
                    self._waiters.remove(me)
                    self._free.notify_all()  # the next in line may go
        try:
            worker = self._new_worker()
        finally:
            with self._free:
                self._starting -= 1
        with self._free:
            self._all.add(worker)
        return worker

    def _checkin(self, worker: _Worker, *, stop: bool = False) -> None:
        """Back to the idle ones; or stopped (stuck, broken, out of memory), in
        which case a fresh one starts when next needed."""
        stop = stop or worker.broken
        with self._free:
            if worker not in self._all:
                return  # already stopped (by close)
            if stop or self._closed:
                self._all.discard(worker)
            else:
                self._idle.append(worker)
            self._free.notify_all()
        if stop:
            worker.stop()

    def start(self) -> None:
        """Start the workers now rather than on the first request."""
        clean_stale_tmp()
        if self.workers <= 0:
            return
        workers = []
        for _ in range(self.workers):
            worker = self._checkout(wait=False)
            if worker is None:
                break
            workers.append(worker)
        for worker in workers:
            worker.executor.submit(_ready)
            self._checkin(worker)

    def run(self, fn: Callable, *args: Any) -> Any:
        """Run a job in a worker and wait for it; ``Busy`` if there is no room.
        A job over ``timeout`` has its worker stopped and replaced: only its
        own; renders on the other workers go on."""
        if not self.try_acquire():
            raise Busy(5, "Every worker is busy and the queue is full.")
        try:
            checked_out = self._checkout(wait=True)
        except BaseException:
            self.release()
            raise
        assert checked_out is not None
        worker: _Worker = checked_out
        once = threading.Lock()

        def finish(stop: bool = False) -> None:
            if once.acquire(blocking=False):  # the first caller only
                self._checkin(worker, stop=stop)
                self.release()

        stop = False
        future: Future | None = None
        try:
            try:
                future = worker.executor.submit(fn, *args)
            except (BrokenProcessPool, RuntimeError):
                if self._closed:
                    raise Busy(5, "The server is restarting.") from None
                # Its process died while idle (out of memory, killed): a fresh one.
                log.warning("a render worker stopped; starting a new one")
                self._checkin(worker, stop=True)
                checked_out = self._checkout(wait=True)
                assert checked_out is not None
                worker = checked_out
                future = worker.executor.submit(fn, *args)
            result = future.result(timeout=self.timeout)
            if isinstance(result, dict) and result.pop("replace", False):
                log.warning("a render ran out of memory; replacing its worker")
                stop = True
            return result
        except FutureTimeout:
            log.warning("a render ran over %g seconds; stopping its worker", self.timeout)
            if self.workers <= 0:
                # A thread cannot be stopped (its template budget ends it): it
                # comes back when it is done.
                assert future is not None
                future.add_done_callback(lambda _f: finish())
            else:
                stop = True
            raise Busy(30, "This render is taking too long.") from None
        except BrokenProcessPool:
            stop = True
            if self._closed:  # the server is stopping: its workers were ended on purpose
                raise Busy(5, "The server is restarting.") from None
            log.warning("a render worker stopped unexpectedly; starting a new one")
            raise Busy(2, "A render worker stopped unexpectedly.") from None
        finally:
            if future is None or self.workers > 0 or future.done():
                finish(stop)

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
        never take a clinician's place, so only below ``workers`` in flight.
        One that runs over ``timeout`` has its worker stopped, like a render."""
        while True:
            with self._lock:
                if self._closed or not self._pending or self._in_flight >= max(1, self.workers):
                    return
                key = next(iter(self._pending))
                fn, args = self._pending.pop(key)
                self._background.add(key)
                self._in_flight += 1
            try:
                worker = self._checkout(wait=False)
            except Exception:  # noqa: BLE001 - a warm-up must never take the server down
                worker = None
            if worker is None:  # a clinician's request took it meanwhile: try later
                with self._lock:
                    self._background.discard(key)
                    self._in_flight -= 1
                    if not self._closed:
                        self._pending.setdefault(key, (fn, args))
                return
            self._run_background(key, worker, fn, args)

    def _run_background(self, key: str, worker: _Worker, fn: Callable, args: tuple) -> None:
        overdue = threading.Event()

        def done(f: Future) -> None:
            timer.cancel()
            with self._lock:
                self._background.discard(key)
                self._in_flight -= 1
            error = None if f.cancelled() else f.exception()
            if error is not None:
                log.debug("background job failed: %s", type(error).__name__)
            stop = overdue.is_set() or isinstance(error, MemoryError)
            # Not in this thread: it may be the worker's own executor's, which
            # stopping the worker waits for.
            threading.Thread(
                target=self._after_background, args=(worker, stop), daemon=True
            ).start()

        def too_long() -> None:
            overdue.set()
            if self.workers > 0:
                seconds = self.timeout
                log.warning("a background build ran over %g seconds; stopping its worker", seconds)
                for proc in worker.processes():
                    proc.terminate()

        timer = threading.Timer(self.timeout, too_long)
        timer.daemon = True
        try:
            future = worker.executor.submit(fn, *args)
        except Exception:  # noqa: BLE001 - a warm-up must never take the server down
            with self._lock:
                self._background.discard(key)
                self._in_flight -= 1
            self._checkin(worker, stop=True)
            return
        timer.start()
        future.add_done_callback(done)

    def _after_background(self, worker: _Worker, stop: bool) -> None:
        self._checkin(worker, stop=stop)
        self._drain()

    def open(self) -> None:
        """Accept work again after ``close`` (an app started a second time)."""
        with self._lock:
            self._closed = False
        clean_stale_tmp()

    def close(self) -> None:
        """Stop now: queued jobs are cancelled and running renders ended (their
        clients are gone; an edition half-built is never stored)."""
        with self._free:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            tmp, self._tmp = self._tmp, None
            self._free.notify_all()
        # The executor has no public way to end running work; without this an
        # edition build would hold up Ctrl-C for as long as it takes.
        for worker in workers:
            worker.stop()
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
