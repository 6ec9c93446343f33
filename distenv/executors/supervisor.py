"""The caller's side of the executors that run tasks in local worker processes.

:class:`SupervisedExecutor` implements the protocol (submit, map, imap_outcomes, freeze,
stop_submitting, shutdown, terminate) by queueing chunks of tasks for its dispatcher thread
(:mod:`~distenv.executors.dispatcher`). Subclasses decide when and how workers start
(``_dispatch``): a fixed pool (:mod:`~distenv.executors.pool`) or one process per task
(:mod:`~distenv.executors.process`).
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import functools
import itertools
import os
import pickle
import sys
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

from distenv.errors import ConfigurationError
from distenv.executors import frozen
from distenv.executors.base import LOCAL_PROCESS_MODES, USE_DEFAULT, DistenvExecutor, TaskOutcome
from distenv.executors.dispatcher import Dispatcher
from distenv.executors.handles import WorkerHandle
from distenv.executors.options import (WorkerSettings, validate_blas_threads, validate_chunksize,
                                       validate_ncores, validate_niceness, validate_timeout)
from distenv.executors.tasks import Chunk, FutureSink, SharedArguments, StreamSink

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


class SupervisedExecutor(Dispatcher, DistenvExecutor):
    """Shared machinery of :class:`~distenv.executors.pool.PoolExecutor` and
    :class:`~distenv.executors.process.ProcessExecutor` (see the module docstring).

    Parameters are those of the subclasses; every one is validated here, before any thread or
    process starts.
    """

    supported_modes = LOCAL_PROCESS_MODES
    isolates_tasks = True
    configures_workers = True
    #: Seconds that workers asked to exit normally (at shutdown, and the idle ones at
    #: :meth:`terminate`) have to end, so that their finalizers run, before they are killed.
    #: One period for all the workers together: it bounds the time :meth:`terminate` and
    #: :meth:`shutdown` wait for them.
    exit_grace = 5.0

    def __init__(self, ncores: int = 0, *, timeout: float | None = None,
                 niceness: int | None = None, blas_threads: int | None = 1,
                 initializer: Callable[..., Any] | None = None, initargs: tuple = (),
                 mp_context: Any = None):
        self.ncores = validate_ncores(ncores)
        self.timeout = validate_timeout(timeout)
        self.niceness = validate_niceness(niceness)
        self.blas_threads = validate_blas_threads(blas_threads)
        if initializer is not None and not callable(initializer):
            raise ConfigurationError(f"initializer must be callable, got {initializer!r}")
        self._initializer, self._initargs = initializer, tuple(initargs)
        self._context = mp_context if mp_context is not None else default_context()
        self._forks = self._context.get_start_method() == "fork"
        self._settings = WorkerSettings(self.niceness, self.blas_threads, os.getpid())
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

    def imap_outcome_blocks(self, fn: Callable[..., Any], arguments: Iterable[tuple], *,
                            task_ids: Iterable[Hashable] | None = None, ordered: bool = True,
                            chunksize: int | None = None) -> Iterator[list[TaskOutcome]]:
        sink = self._start_stream(fn, arguments, task_ids, chunksize)
        return self._iter_blocks(sink, ordered)

    def imap_result_blocks(self, fn: Callable[..., Any], arguments: Iterable[tuple], *,
                           task_ids: Iterable[Hashable] | None = None, ordered: bool = True,
                           chunksize: int | None = None
                           ) -> Iterator[tuple[Sequence[Hashable], list, dict[int, BaseException]]]:
        sink = self._start_stream(fn, arguments, task_ids, chunksize)
        return self._iter_result_blocks(sink, ordered)

    @staticmethod
    def _iter_result_blocks(sink: StreamSink, ordered: bool
                            ) -> Iterator[tuple[Sequence[Hashable], list, dict]]:
        for first, values, errors in sink.blocks(ordered):
            yield sink.task_ids(first, len(values)), values, errors

    @classmethod
    def _iter_outcomes(cls, sink: StreamSink, ordered: bool) -> Iterator[TaskOutcome]:
        for block in cls._iter_blocks(sink, ordered):
            yield from block

    @classmethod
    def _iter_blocks(cls, sink: StreamSink, ordered: bool) -> Iterator[list[TaskOutcome]]:
        """One list per block of results a worker sent (the pieces of :mod:`pool`)."""
        make = functools.partial(tuple.__new__, TaskOutcome)  # TaskOutcome(...) without Python
        for ids, values, errors in cls._iter_result_blocks(sink, ordered):
            if errors:
                values = [None if index in errors else value
                          for index, value in enumerate(values)]
                yield list(map(make, zip(ids, values,
                                         (errors.get(index) for index in range(len(ids))))))
            else:
                yield list(map(make, zip(ids, values, itertools.repeat(None))))

    def _map_values(self, fn: Callable[..., Any], arguments: list[tuple],
                    timeout: float | None, chunksize: int | None,
                    ordered: bool) -> Iterator[Any]:
        sink = self._start_stream(fn, arguments, None, chunksize)
        return sink.values(ordered, timeout)

    def _start_stream(self, fn: Callable[..., Any], arguments: Iterable[tuple],
                      task_ids: Iterable[Hashable] | None,
                      chunksize: int | None) -> StreamSink:
        chunksize = validate_chunksize(chunksize)
        self._check_open()
        items = arguments if isinstance(arguments, SharedArguments) else \
            [tuple(args) for args in arguments]
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

    def no_more_tasks(self) -> None:
        with self._lock:
            self._shutdown_requested = True  # submissions are refused from now on
        self._wake()

    def terminate(self) -> None:
        """Kill the workers running a task now and cancel pending tasks; idle workers exit
        normally, or are killed after :attr:`exit_grace` seconds. Then shut down.

        A killed worker's running task fails with :class:`~distenv.errors.WorkerDiedError`
        (*"terminated by the executor"*); the tasks it held but had not started are cancelled.
        A worker's finalizers (:class:`multiprocessing.util.Finalize`: the journal flush of
        the LOCK and NONE storage modes) run only in the workers that exit normally.
        """
        self._terminate_requested = True
        self.shutdown(wait=True, cancel_futures=True)

    def _frozen_added(self, handle: frozen.FrozenCall) -> None:
        with self._lock:
            started = bool(self._workers)
        if started:
            self._send_frozen({handle.key: frozen.lookup(handle.key)})

    def _send_frozen(self, entries: dict) -> None:
        """Hook for backends with long-lived workers that already run."""

    def _release(self) -> None:
        frozen.release(self._frozen_owner())
        _live_executors.discard(self)


def dumps(obj: Any) -> bytes:
    """Pickle with the highest protocol (what the workers receive)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
