"""The executor protocol: :class:`concurrent.futures.Executor` plus what distenv needs.

An executor runs plain callables; it knows nothing about trajectories. On top of the standard
``submit`` / ``map`` / ``shutdown`` / context manager it offers

* ``supported_modes``: the storage modes (``wrap_mode``) the backend can serve;
* ``submit_task(fn, args, kwargs, task_id=..., timeout=...)``: a standard future for one task
  with the caller's id (a run index) and an optional per-task timeout;
* ``imap_outcomes(fn, arguments, task_ids=..., ordered=...)``: batched execution yielding a
  :class:`TaskOutcome` per task in submission order or in finish order, failures included;
* ``freeze(fn, *args)``: job, arguments and payload handed to workers once (frozen input);
* ``stop_submitting()``: stop starting tasks, let running ones finish (safe in a signal handler);
* ``terminate()``: kill running tasks now; workers with no task in flight exit normally
  (their finalizers run) within a bounded grace period.

A task that raises fails with :class:`~distenv.errors.RunFailedError` chained to the original
exception and carrying the remote traceback; a worker that dies fails its task with
:class:`~distenv.errors.WorkerDiedError` naming the exit code or signal.
"""

from __future__ import annotations

import abc
import concurrent.futures
import signal
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

from distenv.constants import (WRAP_MODE_LOCAL, WRAP_MODE_LOCK, WRAP_MODE_NONE,
                               WRAP_MODE_PIPE, WRAP_MODE_QUEUE)
from distenv.errors import RunFailedError, RunTimeoutError, WorkerDiedError
from distenv.executors import frozen
from distenv.executors.frozen import FrozenCall

#: The storage modes a backend that forks local worker processes can serve.
LOCAL_PROCESS_MODES = (WRAP_MODE_NONE, WRAP_MODE_LOCK, WRAP_MODE_QUEUE, WRAP_MODE_PIPE,
                       WRAP_MODE_LOCAL)

#: ``timeout=USE_DEFAULT`` in :meth:`DistenvExecutor.submit_task` means the executor's timeout.
USE_DEFAULT: Any = type("UseDefault", (), {"__repr__": lambda self: "USE_DEFAULT"})()


class TaskOutcome(NamedTuple):
    """What became of one task: its id and either its value or the error.

    ``error`` is a :class:`~distenv.errors.RunFailedError` (or
    :class:`~distenv.errors.WorkerDiedError`) when the task failed and a
    :class:`concurrent.futures.CancelledError` when it never started.
    """

    task_id: Hashable
    value: Any
    error: BaseException | None

    @property
    def ok(self) -> bool:
        """True when the task returned a value."""
        return self.error is None

    def unwrap(self) -> Any:
        """Return the value or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value


def task_label(task_id: Hashable) -> str:
    """``"task 7"`` for id 7, ``"a task"`` for ``None``."""
    return "a task" if task_id is None else f"task {task_id!r}"


def run_failed(task_id: Hashable, exc: BaseException, remote_traceback: str) -> RunFailedError:
    """Wrap a task's exception into a :class:`RunFailedError` chained to it.

    The message holds the task id, the exception and the remote traceback text.
    """
    error = RunFailedError(
        f"{task_label(task_id)} raised {type(exc).__name__}: {exc}\n\n"
        f"Remote traceback:\n{remote_traceback.rstrip()}",
        run_index=task_id, remote_traceback=remote_traceback)
    error.__cause__ = exc
    return error


def task_timed_out(task_id: Hashable, timeout: float, what: str) -> RunTimeoutError:
    """The error of a task that exceeded its timeout (``what`` says what was done about it)."""
    return RunTimeoutError(f"{task_label(task_id)} exceeded the timeout of {timeout:g} s; {what}",
                           run_index=task_id)


def describe_exit(exitcode: int | None) -> str:
    """Say how a process ended: ``"was killed by signal 9 (SIGKILL ...)"`` or the exit code."""
    if exitcode is None:
        return "vanished (exit status unknown)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        hint = {"SIGKILL": ": killed from outside or by the kernel's out-of-memory killer",
                "SIGSEGV": ": segmentation fault", "SIGBUS": ": bus error",
                "SIGABRT": ": aborted"}.get(name, "")
        return f"was killed by signal {-exitcode} ({name}{hint})"
    return f"exited with code {exitcode}"


def worker_died(task_id: Hashable, pid: int | None, exitcode: int | None) -> WorkerDiedError:
    """The error of a task whose worker process ended while running it."""
    return WorkerDiedError(
        f"{task_label(task_id)}: its worker process {pid} {describe_exit(exitcode)} "
        "while running it", run_index=task_id)


class DistenvExecutor(concurrent.futures.Executor, abc.ABC):
    """Base of every distenv executor; see the module docstring for the protocol.

    Subclasses set :attr:`name`, :attr:`supported_modes` and the capability flags and
    implement :meth:`submit_task`, :meth:`imap_outcomes`, :meth:`_map_values`,
    :meth:`stop_submitting`, :meth:`shutdown` and :meth:`terminate`.
    """

    #: Registry name of the backend.
    name: ClassVar[str] = ""
    #: Storage modes (``wrap_mode`` names) this backend can serve.
    supported_modes: ClassVar[tuple[str, ...]] = ()
    #: Tasks run in other processes: a crash there cannot take the caller down.
    isolates_tasks: ClassVar[bool] = False
    #: ``niceness`` and the BLAS thread variables are applied to the processes running tasks.
    configures_workers: ClassVar[bool] = False

    # -- the standard interface -------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future:
        """Schedule ``fn(*args, **kwargs)``; see :meth:`submit_task` for ids and timeouts."""
        return self.submit_task(fn, args, kwargs)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any],
            timeout: float | None = None, chunksize: int | None = None,
            ordered: bool = True) -> Iterator[Any]:
        """Like :meth:`concurrent.futures.Executor.map`, batched.

        Parameters
        ----------
        fn
            The callable, applied to the items of ``iterables`` zipped.
        timeout
            Seconds the whole iteration may take (standard ``map`` semantics); the per-task
            limit is the executor's ``timeout``.
        chunksize
            Tasks sent per message; ``None`` adapts to the measured task duration.
        ordered
            ``True`` yields in submission order, ``False`` in finish order.

        Raises
        ------
        RunFailedError
            From the iterator, at the first task that failed.
        """
        arguments = list(zip(*iterables))
        return self._map_values(fn, arguments, timeout, chunksize, ordered)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        """Shut down: wait for running tasks; after an exception cancel pending ones and
        after ``KeyboardInterrupt``/``SystemExit`` kill running ones."""
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.terminate()
        self.shutdown(wait=True, cancel_futures=exc_type is not None)
        return False

    # -- distenv's additions ------------------------------------------------------------------
    @abc.abstractmethod
    def submit_task(self, fn: Callable[..., Any], args: tuple = (),
                    kwargs: dict[str, Any] | None = None, *, task_id: Hashable = None,
                    timeout: float | None = USE_DEFAULT) -> concurrent.futures.Future:
        """Schedule ``fn(*args, **kwargs)`` as the task ``task_id``.

        Parameters
        ----------
        fn, args, kwargs
            The call.
        task_id
            The caller's id (a run index); reported in errors. ``None`` numbers tasks in
            submission order.
        timeout
            Seconds the task may run; ``USE_DEFAULT`` takes the executor's ``timeout``.

        Returns
        -------
        concurrent.futures.Future
            Resolves to the value, or fails with :class:`RunFailedError` /
            :class:`WorkerDiedError`; cancelled if the task never started.
        """

    @abc.abstractmethod
    def imap_outcomes(self, fn: Callable[..., Any], arguments: Iterable[tuple],
                      *, task_ids: Iterable[Hashable] | None = None, ordered: bool = True,
                      chunksize: int | None = None) -> Iterator[TaskOutcome]:
        """Run ``fn(*args)`` for every tuple of ``arguments``; yield a :class:`TaskOutcome` each.

        Failures do not stop the iteration; tasks cancelled by :meth:`stop_submitting` come
        with a :class:`concurrent.futures.CancelledError`. ``task_ids`` default to positions.
        Closing the iterator early cancels the tasks not yet started.
        """

    def imap_outcome_blocks(self, fn: Callable[..., Any], arguments: Iterable[tuple],
                            *, task_ids: Iterable[Hashable] | None = None, ordered: bool = True,
                            chunksize: int | None = None) -> Iterator[list[TaskOutcome]]:
        """:meth:`imap_outcomes` in lists, as the backend receives them (one list per batch of
        results), for callers that handle many tiny tasks: per list, not per task.

        Flattened, the lists are exactly what :meth:`imap_outcomes` yields. This default makes
        a list per task; a backend that receives results in batches yields the batches.
        """
        for outcome in self.imap_outcomes(fn, arguments, task_ids=task_ids, ordered=ordered,
                                          chunksize=chunksize):
            yield [outcome]

    def imap_result_blocks(self, fn: Callable[..., Any], arguments: Iterable[tuple],
                           *, task_ids: Iterable[Hashable] | None = None, ordered: bool = True,
                           chunksize: int | None = None
                           ) -> Iterator[tuple[Sequence[Hashable], list, dict[int, BaseException]]]:
        """:meth:`imap_outcome_blocks` without an object per task: ``(task ids, values,
        errors)`` per block, ``errors`` mapping a position in the block to its exception (the
        value there is ``None``). For callers of many tiny tasks (a sweep's 20,000 runs: ~5 ms
        of the caller's CPU went to making and unpacking a :class:`TaskOutcome` per task).

        This default is built on :meth:`imap_outcome_blocks`.
        """
        for block in self.imap_outcome_blocks(fn, arguments, task_ids=task_ids,
                                              ordered=ordered, chunksize=chunksize):
            yield ([outcome.task_id for outcome in block], [outcome.value for outcome in block],
                   {position: outcome.error for position, outcome in enumerate(block)
                    if outcome.error is not None})

    def no_more_tasks(self) -> None:
        """Say that nothing more will be submitted; what was submitted runs to its end.

        A backend with long-lived workers then lets each worker that has no task left exit
        at once (finalizers such as a journal flush run) while the others finish theirs,
        instead of keeping it idle until :meth:`shutdown`. This default does nothing.
        """

    def workers_started(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until the processes that run the tasks submitted so
        far exist; ``True`` if they do and no more are forked for them (barring a worker
        that dies or times out).

        The caller may then do work of its own beside the tasks (a sweep's first store) that
        is best done with no fork to come. ``False`` (this default): the backend cannot
        promise that, and the caller does that work before submitting.
        """
        return False

    @abc.abstractmethod
    def _map_values(self, fn: Callable[..., Any], arguments: list[tuple],
                    timeout: float | None, chunksize: int | None,
                    ordered: bool) -> Iterator[Any]:
        """The values of ``fn(*args)`` for ``arguments``; raise at the first failure."""

    @abc.abstractmethod
    def stop_submitting(self) -> None:
        """Start no more tasks: pending ones are cancelled, running ones finish.

        Only sets a flag (and wakes the dispatcher), so a signal handler may call it.
        Later submissions come back cancelled.
        """

    @abc.abstractmethod
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Release the workers, as :meth:`concurrent.futures.Executor.shutdown`."""

    @abc.abstractmethod
    def terminate(self) -> None:
        """Kill running tasks now (their futures fail), cancel pending ones, and shut down.

        Worker processes with no task in flight are asked to exit normally, so that their
        finalizers run, and killed only if they do not within a bounded grace period; the
        call never waits longer than that.
        """

    def freeze(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> FrozenCall:
        """Hand ``fn`` and its leading arguments to the workers once.

        Call it before the first submission: workers forked afterwards inherit the frozen
        input without pickling it. Submit the returned handle as the task's callable with only
        the per-task arguments: ``executor.submit(handle, run_index)``. The entry is released
        at :meth:`shutdown`. Freeze only what the tasks do not mutate.

        Returns
        -------
        FrozenCall
            A handle that pickles to a short key.
        """
        handle = frozen.freeze(self._frozen_owner(), fn, args, kwargs)
        self._frozen_added(handle)
        return handle

    def _frozen_owner(self) -> str:
        return f"{type(self).__name__}-{id(self):x}"

    def _frozen_added(self, handle: FrozenCall) -> None:
        """Hook: a backend whose workers already run ships the new entry to them."""
