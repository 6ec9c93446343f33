"""``pool``: a fixed pool of ``ncores`` worker processes (pypet's ``use_pool=True``).

Tasks travel in pieces cut off the queued chunks: a piece is sized so that it takes about
:attr:`PoolExecutor.target_piece_seconds` (measured on the tasks already finished) and shrinks
towards the end of a ``map`` (guided self-scheduling), so many tiny tasks cost one message per
piece while long tasks still balance over the workers. Each worker holds at most two pieces
(one running, one queued) so it never waits for the parent. Results stream back every few
milliseconds, in finish order or reassembled into submission order.

With frozen input (:meth:`~distenv.executors.base.DistenvExecutor.freeze`) the job, its
arguments and the trajectory reach the workers once, by fork inheritance, so each task sends a
handle and a run index only. Without it, the job and its arguments must be picklable: that is
checked in the caller's thread before any worker starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from distenv.errors import ConfigurationError, RunFailedError, WorkerDiedError
from distenv.executors import frozen
from distenv.executors.base import describe_exit, task_label
from distenv.executors.handles import FREEZE_KEY, WorkerHandle, frame
from distenv.executors.supervisor import SupervisedExecutor, dumps
from distenv.executors.tasks import Chunk
from distenv.executors.worker import pool_worker_main

#: Consecutive workers dying before their first task after which the pool gives up.
MAX_STARTUP_FAILURES = 3


def unpicklable_job(exc: BaseException) -> ConfigurationError:
    """The error for a job or argument that a pool cannot send to its workers."""
    return ConfigurationError(
        f"the job or its arguments cannot be pickled for the pool's workers "
        f"({type(exc).__name__}: {exc}); use use_pool=False (the 'process' executor forks a "
        "new process per run, so only the result is pickled), freeze the input "
        "(freeze_input=True), or make it picklable")


class PoolExecutor(SupervisedExecutor):
    """A fixed pool of worker processes, forked on Linux.

    Parameters
    ----------
    ncores
        Number of worker processes; ``0`` (default) asks psutil for the CPU count.
    timeout
        Seconds a task may run; an overdue task's worker is killed and replaced, the task
        fails with :class:`~distenv.errors.RunTimeoutError`. ``None``: no limit. Tasks with a
        timeout travel one at a time (the clock starts when the task is sent).
    niceness
        Minimum niceness of the workers (``None``: unchanged).
    blas_threads
        ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` (and the like) for
        the workers, where the caller's environment does not set them; ``None`` leaves the
        environment alone. Default 1: one BLAS thread per worker process.
    initializer, initargs
        Called as ``initializer(*initargs)`` in each worker at start.
    mp_context
        A :mod:`multiprocessing` context; default ``fork`` where available.
    chunksize
        Default tasks per piece for ``map``; ``None`` adapts to the measured task duration.

    Raises
    ------
    ConfigurationError
        An argument is out of range (before any process starts).

    Notes
    -----
    ``map`` and ``imap_outcomes`` batch tasks into pieces: use them for many small tasks.
    Each ``submit`` is a message of its own. A worker that dies fails the task it was running;
    its tasks that had not started run on another worker, and so do tiny tasks (under a
    millisecond) that finished in its last ~50 ms but whose results were not sent yet.

    :meth:`terminate` kills the workers that hold a task (running, or queued in their pipe) and
    asks the idle ones to exit normally, so their finalizers run; an idle worker still alive
    :attr:`exit_grace` seconds later is killed.

    Example
    -------
    >>> with PoolExecutor(ncores=2) as pool:          # doctest: +SKIP
    ...     squares = list(pool.map(pow, range(10), [2] * 10))
    """

    name = "pool"
    #: Seconds of work a piece of an adaptive chunk should hold.
    target_piece_seconds = 0.05
    #: Seconds of work a piece holds at least once the task duration is known: the guided
    #: shrinking towards the end of a ``map`` would otherwise cut tiny tasks into pieces of a
    #: few tasks, each a message both ways (a sweep of 20,000 runs of 30 us made ~50 pieces).
    min_piece_seconds = 0.005
    #: Pieces a worker holds at once (one running, the rest queued in its pipe).
    prefetch = 2
    #: Larger pieces wait until their worker is idle: a piece queued for a busy worker must fit
    #: into its pipe's buffer, or the dispatcher could block on it.
    prefetch_max_bytes = 64 * 1024

    def __init__(self, ncores: int = 0, *, timeout: float | None = None,
                 niceness: int | None = None, blas_threads: int | None = 1,
                 initializer: Callable[..., Any] | None = None, initargs: tuple = (),
                 mp_context: Any = None, chunksize: int | None = None):
        from distenv.executors.options import validate_chunksize
        super().__init__(ncores, timeout=timeout, niceness=niceness, blas_threads=blas_threads,
                         initializer=initializer, initargs=initargs, mp_context=mp_context)
        self.chunksize = validate_chunksize(chunksize)
        self._startup_failures = 0
        self._frozen_messages: list[bytes] = []
        self._started = threading.Event()  # all ``ncores`` workers forked (or given up)

    def workers_started(self, timeout: float) -> bool:
        return self._started.wait(timeout) and not self._broken and \
            not self._terminate_requested

    def _start_stream(self, fn, arguments, task_ids, chunksize):  # type: ignore[override]
        return super()._start_stream(fn, arguments, task_ids,
                                     self.chunksize if chunksize is None else chunksize)

    def _prepare_payload(self, fn: Callable[..., Any], items: list[tuple],
                         kwargs_list: list[dict] | None) -> bytes | None:
        try:
            return dumps((fn, items, kwargs_list))
        except Exception as exc:
            raise unpicklable_job(exc) from exc

    def _send_frozen(self, entries: dict) -> None:
        try:
            body = dumps(entries)
        except Exception as exc:
            raise ConfigurationError(
                "freeze() after the pool's workers started must pickle the frozen input "
                f"once per worker, and it cannot be pickled ({exc}); call freeze() before "
                "the first submission so the workers inherit it") from exc
        with self._lock:
            self._frozen_messages.append(body)
        self._wake()

    # -- dispatching -------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if not self._pending:
            if self._shutdown_requested:
                self._retire_idle_workers()
            return
        while len(self._workers) < self.ncores and not self._terminate_requested:
            self._workers.append(self._start_worker())
        progress = True
        while progress:
            progress = False
            for handle in sorted(self._workers, key=lambda h: len(h.inflight)):
                progress = self._feed(handle) or progress
        # after the first pieces are sent: a caller waiting for this (a sweep's first store)
        # would otherwise take the interpreter from this thread before the workers got work
        self._started.set()

    def _start_worker(self) -> WorkerHandle:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        control_array = self._context.RawArray("q", 3)
        entries = None if self._forks else frozen.entries(self._frozen_owner())
        process = self._context.Process(
            target=pool_worker_main, name="distenv-pool-worker",
            args=(child_conn, control_array, self._settings, self._initializer,
                  self._initargs, entries, self._inherited_fds()))
        process.start()
        child_conn.close()
        return WorkerHandle(process, parent_conn, memoryview(control_array).cast("B").cast("q"))

    def _piece_size(self, head: Chunk, busy: bool) -> int:
        """Tasks to cut off ``head`` for a worker (``busy``: it already holds a piece)."""
        if head.timeout is not None:
            return 0 if busy else 1  # the deadline counts from the send
        if head.payload is not None:  # already pickled: whole or not at all
            return 0 if busy and len(head.payload) > self.prefetch_max_bytes else head.remaining
        sink = head.sink
        if sink.chunksize:
            size = sink.chunksize
        else:
            size = -(-head.remaining // (2 * self.ncores))  # guided self-scheduling
            mean = sink.mean_task_seconds
            if mean is None:  # probe the duration with a small share first
                size = min(size, max(4, head.remaining // (16 * self.ncores)))
            else:
                per_second = 1.0 / max(mean, 1e-7)
                size = max(min(size, int(self.target_piece_seconds * per_second)),
                           int(self.min_piece_seconds * per_second))
        if busy and sink.bytes_per_task:
            size = min(size, int(self.prefetch_max_bytes / sink.bytes_per_task))
        return max(1, size)

    def _retire_idle_workers(self) -> None:
        """After :meth:`shutdown` with no task left to hand out, a worker that finished its
        last piece exits at once, while the others still run theirs: its exit (the LOCK and
        NONE storage modes flush its journal then) overlaps their last tasks instead of
        following them. A task put back by a worker that died meanwhile starts a new worker."""
        for handle in self._workers:
            if not handle.inflight and not handle.retiring:
                handle.ask_to_exit()

    def _feed(self, handle: WorkerHandle) -> bool:
        """Give ``handle`` one more piece if it has room; ``True`` if work moved."""
        if handle.retiring or handle.timed or len(handle.inflight) >= self.prefetch:
            return False
        busy = bool(handle.inflight)
        piece = self._take(lambda head: self._piece_size(head, busy))
        if piece is None:
            return False
        body = piece.payload or self._pickle_piece(piece)
        if body is None:
            return True
        piece.sink.bytes_per_task = len(body) / len(piece.items)
        if busy and len(body) > self.prefetch_max_bytes:
            piece.payload = body
            with self._lock:
                self._pending.appendleft(piece)
            return False
        self._flush_frozen_messages()
        try:
            handle.send(piece, body)
        except OSError:
            pass  # the worker died; its sentinel fires and the piece runs elsewhere
        return True

    def _pickle_piece(self, piece: Chunk) -> bytes | None:
        """Pickle a piece; tasks that cannot be pickled fail, the others go back in line."""
        try:
            return dumps((piece.fn, piece.items, piece.kwargs_list))
        except Exception:
            pass
        good = []
        for index, args in enumerate(piece.items):
            kwargs = None if piece.kwargs_list is None else [piece.kwargs_list[index]]
            try:
                dumps((piece.fn, [args], kwargs))
                good.append(index)
            except Exception as exc:
                task_id = piece.sink.task_id(piece.positions[index])
                error = RunFailedError(f"{task_label(task_id)} was not run: "
                                       f"{unpicklable_job(exc)}", run_index=task_id)
                error.__cause__ = exc
                piece.sink.deliver(piece.positions[index:index + 1], [None], {0: error})
        if good:
            with self._lock:
                self._pending.appendleft(piece.subset(good))
        return None

    def _flush_frozen_messages(self) -> None:
        with self._lock:
            messages, self._frozen_messages = self._frozen_messages, []
        for body in messages:
            for handle in self._workers:
                try:
                    handle.conn.send_bytes(frame(FREEZE_KEY, body))
                except OSError:
                    pass

    def _release(self) -> None:
        self._started.set()  # nobody waits for workers that will not come
        super()._release()

    def _worker_ended(self, handle: WorkerHandle, exitcode: int | None) -> None:
        if handle.has_begun() or handle.retiring or exitcode == 0:
            self._startup_failures = 0
            return
        self._startup_failures += 1
        if self._startup_failures < MAX_STARTUP_FAILURES:
            return
        self._broken = (f"{MAX_STARTUP_FAILURES} worker processes in a row "
                        f"{describe_exit(exitcode)} before their first task (a failing "
                        "initializer prints its traceback to the workers' stderr)")
        self._fail_everything(lambda task_id: WorkerDiedError(
            f"{task_label(task_id)} could not run: {self._broken}", run_index=task_id))
