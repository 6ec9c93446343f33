"""``process``: a new process per task (pypet's ``use_pool=False``).

On Linux each task's process is forked from the parent, so the job and its arguments (a
trajectory holding an unpicklable simulator, say) are inherited, never pickled; only the
return value travels back. At most ``ncores`` run at once, and fewer while a CPU, memory or
swap cap is crossed (:mod:`~distenv.executors.caps`), though at least one always runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from distenv.errors import RunFailedError
from distenv.executors import frozen
from distenv.executors.base import task_label
from distenv.executors.caps import CapMonitor
from distenv.executors.handles import WorkerHandle
from distenv.executors.supervisor import SupervisedExecutor
from distenv.executors.tasks import Chunk
from distenv.executors.worker import process_worker_main


class ProcessExecutor(SupervisedExecutor):
    """Runs every task in a process of its own, forked on Linux.

    Parameters
    ----------
    ncores
        Most processes running at once; ``0`` (default) asks psutil for the CPU count.
    cpu_cap, swap_cap
        Percent in (0, 100]: no new process starts while the CPU (average over all cores) or
        swap use is above it. 100 (default) disables the cap.
    memory_cap
        Percent in (0, 100], or ``(percent, memory_per_process_MB)``: a new process starts
        only if the memory use plus its expected memory stays below the cap.
    timeout
        Seconds a task may run; an overdue task's process is killed and the task fails with
        :class:`~distenv.errors.RunTimeoutError`. ``None``: no limit.
    niceness
        Minimum niceness of the task processes (``None``: unchanged).
    blas_threads
        BLAS/OpenMP thread variables for the task processes where the caller's environment
        does not set them; ``None`` leaves the environment alone. Default 1.
    initializer, initargs
        Called as ``initializer(*initargs)`` in each task's process before the task.
    mp_context
        A :mod:`multiprocessing` context; default ``fork`` where available. With another
        start method the job and its arguments must be picklable.

    Raises
    ------
    ConfigurationError
        An argument is out of range (before any process starts).

    Notes
    -----
    There are no idle workers: a process holds its one task until it has sent the result, then
    exits on its own. :meth:`terminate` kills the processes still running their task (the task
    fails with :class:`~distenv.errors.WorkerDiedError`) and gives those that already sent
    their result :attr:`exit_grace` seconds to finish exiting (their finalizers run), as
    :meth:`shutdown` does.
    """

    name = "process"
    #: Seconds between two checks of the caps while they hold a task back.
    cap_recheck_interval = 0.1

    def __init__(self, ncores: int = 0, *, cpu_cap: float = 100.0,
                 memory_cap: float | tuple = 100.0, swap_cap: float = 100.0,
                 timeout: float | None = None, niceness: int | None = None,
                 blas_threads: int | None = 1,
                 initializer: Callable[..., Any] | None = None, initargs: tuple = (),
                 mp_context: Any = None):
        caps = CapMonitor(cpu_cap, memory_cap, swap_cap, self.cap_recheck_interval)
        super().__init__(ncores, timeout=timeout, niceness=niceness, blas_threads=blas_threads,
                         initializer=initializer, initargs=initargs, mp_context=mp_context)
        self.caps = caps
        self._held_back_until: float | None = None
        #: Most task processes seen running at once (for tests and diagnostics).
        self.max_running = 0

    def _dispatch(self) -> None:
        self._held_back_until = None
        while self._pending and len(self._workers) < self.ncores:
            if self._terminate_requested:
                return
            if self._workers and self.caps.crossed(len(self._workers)):
                self._held_back_until = time.monotonic() + self.cap_recheck_interval
                return
            piece = self._take(lambda head: 1)
            if piece is None:
                return
            self._start_process(piece)
            self.max_running = max(self.max_running, len(self._workers))

    def _dispatch_retry_after(self) -> float | None:
        if self._held_back_until is None:
            return None
        return max(0.0, self._held_back_until - time.monotonic())

    def _start_process(self, piece: Chunk) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        kwargs = piece.kwargs_list[0] if piece.kwargs_list else {}
        entries = None if self._forks else frozen.entries(self._frozen_owner())
        process = self._context.Process(
            target=process_worker_main, name="distenv-task-process",
            args=(writer, piece.fn, piece.items[0], kwargs, self._settings, self._initializer,
                  self._initargs, entries, self._inherited_fds()))
        try:
            process.start()
        except Exception as exc:  # cannot fork (resources) or cannot pickle (spawn)
            reader.close()
            writer.close()
            task_id = piece.sink.task_id(piece.positions[0])
            error = RunFailedError(f"{task_label(task_id)} could not start its process: "
                                   f"{type(exc).__name__}: {exc}", run_index=task_id)
            error.__cause__ = exc
            piece.sink.deliver(piece.positions[0:1], [None], {0: error})
            return
        writer.close()
        handle = WorkerHandle(process, reader)
        handle.track(piece)
        self._workers.append(handle)
