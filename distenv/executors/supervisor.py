"""The parent side of executors that run tasks in local worker processes.

One dispatcher thread per executor owns every worker: it cuts pieces off the queued chunks,
sends them, receives results, and watches the workers' sentinels. A worker that dies fails the
task it was running with :class:`~distenv.errors.WorkerDiedError` (exit code or signal named)
and gives its other tasks back to the queue; a task over its timeout has its worker killed and
fails with :class:`~distenv.errors.RunFailedError`. Waits are bounded (sentinels plus a
periodic ``waitpid`` poll), so nothing waits forever on a dead process.

Subclasses decide when and how workers start (:meth:`SupervisedExecutor._dispatch`): a fixed
pool (:mod:`~distenv.executors.pool`) or one process per task (:mod:`~distenv.executors.process`).
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import itertools
import logging
import os
import pickle
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator
from multiprocessing.connection import wait as wait_for_objects
from typing import Any

from distenv.errors import RunFailedError, WorkerDiedError
from distenv.executors import frozen
from distenv.executors.base import (LOCAL_PROCESS_MODES, USE_DEFAULT, DistenvExecutor,
                                    TaskOutcome, run_failed, task_label, task_timed_out,
                                    worker_died)
from distenv.executors.handles import WorkerHandle, decode_error
from distenv.executors.options import (WorkerSettings, validate_blas_threads, validate_ncores,
                                       validate_niceness, validate_timeout)
from distenv.executors.tasks import Chunk, FutureSink, StreamSink
from distenv.executors.worker import load_blas_controller

logger = logging.getLogger("distenv.executors")

#: Seconds between ``waitpid`` checks of busy workers (a safety net beside the sentinels).
LIVENESS_POLL = 0.5

_live_executors: weakref.WeakSet = weakref.WeakSet()


def _shutdown_live_executors() -> None:
    """At interpreter exit: cancel what is pending, let running tasks end, reap workers."""
    for executor in list(_live_executors):
        executor.shutdown(wait=True, cancel_futures=True)


atexit.register(_shutdown_live_executors)


def _close_descriptors(*descriptors: int) -> None:
    for descriptor in descriptors:
        try:
            os.close(descriptor)
        except OSError:
            pass


def default_context() -> Any:
    """``fork`` where it exists (data need not be picklable), the platform default elsewhere."""
    import multiprocessing
    if sys.platform != "win32" and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class SupervisedExecutor(DistenvExecutor):
    """Shared machinery of :class:`~distenv.executors.pool.PoolExecutor` and
    :class:`~distenv.executors.process.ProcessExecutor` (see the module docstring)."""

    supported_modes = LOCAL_PROCESS_MODES
    isolates_tasks = True
    configures_workers = True

    def __init__(self, ncores: int = 0, *, timeout: float | None = None,
                 niceness: int | None = None, blas_threads: int | None = 1,
                 initializer: Callable[..., Any] | None = None, initargs: tuple = (),
                 mp_context: Any = None):
        self.ncores = validate_ncores(ncores)
        self.timeout = validate_timeout(timeout)
        self.niceness = validate_niceness(niceness)
        self.blas_threads = validate_blas_threads(blas_threads)
        if initializer is not None and not callable(initializer):
            from distenv.errors import ConfigurationError
            raise ConfigurationError(f"initializer must be callable, got {initializer!r}")
        self._initializer, self._initargs = initializer, tuple(initargs)
        self._context = mp_context if mp_context is not None else default_context()
        self._forks = self._context.get_start_method() == "fork"
        self._settings = WorkerSettings(self.niceness, self.blas_threads, os.getpid())
        if self.blas_threads is not None and self._forks:
            load_blas_controller()
        self._pending: collections.deque[Chunk] = collections.deque()
        self._lock = threading.Lock()
        self._workers: list[WorkerHandle] = []
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        weakref.finalize(self, _close_descriptors, self._wake_read, self._wake_write)
        self._stop_requested = self._shutdown_requested = False
        self._cancel_requested = self._terminate_requested = False
        self._broken: str | None = None
        self._thread: threading.Thread | None = None
        self._task_numbers = itertools.count()
        self._last_liveness_poll = 0.0
        _live_executors.add(self)

    # -- submitting --------------------------------------------------------------------------
    def submit_task(self, fn: Callable[..., Any], args: tuple = (),
                    kwargs: dict[str, Any] | None = None, *, task_id: Hashable = None,
                    timeout: float | None = USE_DEFAULT) -> concurrent.futures.Future:
        timeout = self.timeout if timeout is USE_DEFAULT else validate_timeout(timeout)
        self._check_open()
        task_id = next(self._task_numbers) if task_id is None else task_id
        future: concurrent.futures.Future = concurrent.futures.Future()
        kwargs_list = [dict(kwargs)] if kwargs else None
        payload = self._prepare_payload(fn, [tuple(args)], kwargs_list)
        chunk = Chunk(fn, [tuple(args)], kwargs_list, range(1), FutureSink(future, task_id),
                      timeout, payload)
        self._enqueue(chunk)
        return future

    def imap_outcomes(self, fn: Callable[..., Any], arguments: Iterable[tuple], *,
                      task_ids: Iterable[Hashable] | None = None, ordered: bool = True,
                      chunksize: int | None = None) -> Iterator[TaskOutcome]:
        sink = self._start_stream(fn, arguments, task_ids, chunksize)
        return self._iter_outcomes(sink, ordered)

    @staticmethod
    def _iter_outcomes(sink: StreamSink, ordered: bool) -> Iterator[TaskOutcome]:
        task_id = sink.task_id
        for first, values, errors in sink.blocks(ordered):
            for index, value in enumerate(values):
                error = errors.get(index)
                yield TaskOutcome(task_id(first + index), None if error else value, error)

    def _map_values(self, fn: Callable[..., Any], arguments: list[tuple],
                    timeout: float | None, chunksize: int | None,
                    ordered: bool) -> Iterator[Any]:
        sink = self._start_stream(fn, arguments, None, chunksize)
        return sink.values(ordered, timeout)

    def _start_stream(self, fn: Callable[..., Any], arguments: Iterable[tuple],
                      task_ids: Iterable[Hashable] | None,
                      chunksize: int | None) -> StreamSink:
        from distenv.executors.options import validate_chunksize
        chunksize = validate_chunksize(chunksize)
        self._check_open()
        items = [tuple(args) for args in arguments]
        ids = None if task_ids is None else list(task_ids)
        if ids is not None and len(ids) != len(items):
            raise ValueError(f"{len(ids)} task_ids for {len(items)} tasks")
        if items:
            self._prepare_payload(fn, items[:1], None)  # fail early on an unpicklable job
        sink = StreamSink(len(items), ids, chunksize, self._alive)
        if items:
            self._enqueue(Chunk(fn, items, None, range(len(items)), sink, self.timeout))
        return sink

    def _prepare_payload(self, fn: Callable[..., Any], items: list[tuple],
                         kwargs_list: list[dict] | None) -> bytes | None:
        """Pickle a task in the caller's thread if the backend sends it; ``None`` if not."""
        return None

    def _check_open(self) -> None:
        if self._broken:
            raise RuntimeError(f"{type(self).__name__} is broken: {self._broken}")
        if self._shutdown_requested:
            raise RuntimeError("cannot schedule new tasks after shutdown")

    def _enqueue(self, chunk: Chunk) -> None:
        if self._stop_requested:
            chunk.sink.cancel(chunk.positions)
            return
        with self._lock:
            self._pending.append(chunk)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"distenv-{self.name}-dispatcher")
                self._thread.start()
        self._wake()

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- stopping ----------------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is pending anyway (or the executor is closed)

    def stop_submitting(self) -> None:
        self._stop_requested = True
        self._wake()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown_requested = True
            self._cancel_requested = self._cancel_requested or cancel_futures
            thread = self._thread
        self._wake()
        if thread is None:
            self._release()
        elif wait and thread is not threading.current_thread():
            thread.join()

    def terminate(self) -> None:
        self._terminate_requested = True
        self.shutdown(wait=True, cancel_futures=True)

    def _frozen_added(self, handle: frozen.FrozenCall) -> None:
        with self._lock:
            started = bool(self._workers)
        if started:
            self._send_frozen({handle.key: frozen._REGISTRY[handle.key]})

    def _send_frozen(self, entries: dict) -> None:
        """Hook for backends with long-lived workers that already run."""

    def _release(self) -> None:
        frozen.release(self._frozen_owner())
        _live_executors.discard(self)

    # -- the dispatcher thread ---------------------------------------------------------------
    def _run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # children inherit the mask
        try:
            self._loop()
        except BaseException as exc:  # a bug here must not leave callers waiting
            logger.exception("the %s executor's dispatcher failed", self.name)
            self._broken = f"its dispatcher thread failed with {exc!r}"
            self._fail_everything(lambda task_id: RunFailedError(
                f"{task_label(task_id)} was lost: the executor's dispatcher failed with "
                f"{exc!r}", run_index=task_id))
        finally:
            for handle in list(self._workers):
                handle.stop()
                self._forget(handle)
            self._release()

    def _loop(self) -> None:
        while True:
            self._drain_wake()
            if self._terminate_requested:
                for handle in list(self._workers):
                    handle.kill()
                    self._reap(handle, reason="terminated by the executor")
                self._cancel_pending()  # including what the killed workers had not started
            elif self._stop_requested or self._cancel_requested:
                self._cancel_pending()
                for handle in self._workers:
                    handle.request_stop()
            if not self._broken:
                self._dispatch()
            busy = [handle for handle in self._workers if handle.inflight]
            if self._shutdown_requested and not busy and not self._pending:
                return
            waitables: list[Any] = [self._wake_read]
            by_object: dict[Any, WorkerHandle] = {}
            for handle in self._workers:
                for waitable in handle.waitables():
                    waitables.append(waitable)
                    by_object[waitable] = handle
            ready = wait_for_objects(waitables, self._wait_timeout(busy))
            for obj in ready:
                handle = by_object.get(obj)
                if handle is None or handle not in self._workers:
                    continue
                if obj is handle.conn:
                    handle.receive(self._on_results)
                else:
                    self._reap(handle)
            self._check_deadlines()
            self._poll_liveness(busy)

    def _wait_timeout(self, busy: list[WorkerHandle]) -> float | None:
        now = time.monotonic()
        candidates = [handle.deadline - now for handle in self._workers
                      if handle.deadline is not None]
        if busy:
            candidates.append(LIVENESS_POLL)
        extra = self._dispatch_retry_after()
        if extra is not None:
            candidates.append(extra)
        return max(0.0, min(candidates)) if candidates else None

    def _dispatch_retry_after(self) -> float | None:
        """Seconds after which :meth:`_dispatch` wants another chance (caps); ``None``."""
        return None

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _dispatch(self) -> None:
        """Start workers and hand them pieces of the pending chunks."""
        raise NotImplementedError

    def _take(self, size: Callable[[Chunk], int]) -> Chunk | None:
        """Cut the next piece off the pending chunks; ``size(head)`` 0 means not now."""
        with self._lock:
            while self._pending:
                head = self._pending[0]
                if head.sink.cancelled:
                    self._pending.popleft()
                    head.sink.cancel(head.positions[head.offset:])
                    continue
                count = size(head)
                if count <= 0:
                    return None
                piece = head.take(count)
                if head.remaining == 0:
                    self._pending.popleft()
                if piece.sink.start():
                    return piece
        return None

    def _cancel_pending(self) -> None:
        with self._lock:
            chunks, self._pending = list(self._pending), collections.deque()
        for chunk in chunks:
            chunk.sink.cancel(chunk.positions[chunk.offset:])

    def _on_results(self, handle: WorkerHandle, chunk: Chunk, start: int, values: list,
                    errors: dict, elapsed: float) -> None:
        converted = {}
        for index, encoded in errors.items():
            task_id = chunk.sink.task_id(chunk.positions[start + index])
            exc, text = decode_error(encoded)
            converted[index] = run_failed(task_id, exc, text)
        chunk.sink.record(len(values), elapsed)
        chunk.sink.deliver(chunk.positions[start:start + len(values)], values, converted)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for handle in list(self._workers):
            if handle.deadline is None or now < handle.deadline:
                continue
            handle.receive(self._on_results)  # it may have just finished
            if handle.deadline is None or not handle.inflight:
                continue
            chunk, index = handle.running_task()
            handle.kill()
            task_id = chunk.sink.task_id(chunk.positions[index])
            error = task_timed_out(task_id, chunk.timeout or 0.0,
                                   f"its worker process {handle.pid} was killed")
            chunk.sink.deliver(chunk.positions[index:index + 1], [None], {0: error})
            handle.mark_delivered(chunk, index + 1)
            self._reap(handle)

    def _poll_liveness(self, busy: list[WorkerHandle]) -> None:
        now = time.monotonic()
        if now - self._last_liveness_poll < LIVENESS_POLL:
            return
        self._last_liveness_poll = now
        for handle in busy:
            if handle in self._workers and not handle.process.is_alive():
                self._reap(handle)

    def _reap(self, handle: WorkerHandle, reason: str | None = None) -> None:
        """A worker ended: collect what it sent, then fail or re-queue what it still held."""
        handle.receive(self._on_results)
        handle.process.join(5.0)
        exitcode = handle.process.exitcode
        requeue: list[Chunk] = []
        for chunk, indices, running in handle.unfinished_tasks():
            if running is not None:
                task_id = chunk.sink.task_id(chunk.positions[running])
                error = (worker_died(task_id, handle.pid, exitcode) if reason is None else
                         WorkerDiedError(f"{task_label(task_id)}: its worker process was "
                                         f"{reason}", run_index=task_id))
                chunk.sink.deliver(chunk.positions[running:running + 1], [None], {0: error})
            if indices:
                requeue.append(chunk.subset(indices))
        if requeue:
            with self._lock:
                self._pending.extendleft(reversed(requeue))
        self._forget(handle)
        self._worker_ended(handle, exitcode)

    def _worker_ended(self, handle: WorkerHandle, exitcode: int | None) -> None:
        """Hook: a worker was reaped (the pool counts workers that die at start)."""

    def _forget(self, handle: WorkerHandle) -> None:
        if handle in self._workers:
            self._workers.remove(handle)
        handle.close()

    def _fail_everything(self, make_error: Callable[[Hashable], BaseException]) -> None:
        """Fail every pending and running task (the executor cannot go on)."""
        with self._lock:
            chunks, self._pending = list(self._pending), collections.deque()
        for handle in list(self._workers):
            handle.kill()
            for chunk, indices, running in handle.unfinished_tasks():
                chunks.append(chunk.subset(indices + ([] if running is None else [running])))
            self._forget(handle)
        for chunk in chunks:
            positions = chunk.positions[chunk.offset:]
            for position in positions:
                error = make_error(chunk.sink.task_id(position))
                chunk.sink.deliver([position], [None], {0: error})

    def _inherited_fds(self) -> list[int]:
        """Parent-side descriptors a forked worker should close."""
        if not self._forks:
            return []
        return [self._wake_read, self._wake_write] + [h.conn.fileno() for h in self._workers
                                                      if not h.conn.closed]


def dumps(obj: Any) -> bytes:
    """Pickle with the highest protocol (what the workers receive)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
