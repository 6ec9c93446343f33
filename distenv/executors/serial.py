"""``serial``: tasks run in the calling process, one after the other (``multiproc=False``).

``submit`` runs the task at once and returns a finished future; ``map`` and
``imap_outcomes`` run each task when the iterator reaches it. Errors look as with the other
executors: :class:`~distenv.errors.RunFailedError` chained to the exception, with its traceback
text. ``KeyboardInterrupt`` is not a task failure and propagates.

A ``timeout`` interrupts a task with ``SIGALRM`` (POSIX, main thread only; code in a C
extension is interrupted when it returns to Python); elsewhere it is not enforced and a warning
says so once.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from distenv.constants import WRAP_MODE_NONE
from distenv.executors import frozen
from distenv.executors.base import (USE_DEFAULT, DistenvExecutor, TaskOutcome, run_failed,
                                    task_timed_out)
from distenv.executors.options import validate_timeout


class _TaskTimeout(BaseException):
    """Raised by the alarm inside an overdue task (a BaseException: tasks cannot catch it
    with ``except Exception``)."""


def call_with_alarm(fn: Callable[..., Any], args: tuple, kwargs: dict,
                    timeout: float | None) -> Any:
    """Call ``fn(*args, **kwargs)``, interrupting it after ``timeout`` seconds if possible."""
    if timeout is None:
        return fn(*args, **kwargs)
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"):
        warnings.warn("the serial executor enforces timeout only in the main thread on POSIX; "
                      "this task runs without a time limit", RuntimeWarning, stacklevel=3)
        return fn(*args, **kwargs)

    def on_alarm(signum: int, frame: Any) -> None:
        raise _TaskTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class SerialExecutor(DistenvExecutor):
    """Runs tasks in the calling process.

    Parameters
    ----------
    timeout
        Seconds a task may run (see the module docstring); ``None``: no limit.

    Example
    -------
    >>> with SerialExecutor() as executor:
    ...     list(executor.map(abs, [-1, -2]))
    [1, 2]
    """

    name = "serial"
    supported_modes = (WRAP_MODE_NONE,)

    def __init__(self, *, timeout: float | None = None):
        self.timeout = validate_timeout(timeout)
        self._stopped = False
        self._shut_down = False
        self._task_numbers = itertools.count()

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict, task_id: Hashable,
             timeout: float | None) -> tuple[Any, BaseException | None]:
        try:
            return call_with_alarm(fn, args, kwargs, timeout), None
        except _TaskTimeout:
            return None, task_timed_out(task_id, timeout or 0.0, "it was interrupted")
        except (Exception, SystemExit) as exc:
            text = "".join(traceback.format_exception(exc))
            return None, run_failed(task_id, exc, text)

    def _check_open(self) -> None:
        if self._shut_down:
            raise RuntimeError("cannot schedule new tasks after shutdown")

    def submit_task(self, fn: Callable[..., Any], args: tuple = (),
                    kwargs: dict[str, Any] | None = None, *, task_id: Hashable = None,
                    timeout: float | None = USE_DEFAULT) -> concurrent.futures.Future:
        timeout = self.timeout if timeout is USE_DEFAULT else validate_timeout(timeout)
        self._check_open()
        task_id = next(self._task_numbers) if task_id is None else task_id
        future: concurrent.futures.Future = concurrent.futures.Future()
        if self._stopped:
            future.cancel()
            future.set_running_or_notify_cancel()
            return future
        future.set_running_or_notify_cancel()
        value, error = self._run(fn, tuple(args), dict(kwargs or {}), task_id, timeout)
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
        return future

    def imap_outcomes(self, fn: Callable[..., Any], arguments: Iterable[tuple], *,
                      task_ids: Iterable[Hashable] | None = None, ordered: bool = True,
                      chunksize: int | None = None) -> Iterator[TaskOutcome]:
        self._check_open()
        items = [tuple(args) for args in arguments]
        ids = list(range(len(items))) if task_ids is None else list(task_ids)
        if len(ids) != len(items):
            raise ValueError(f"{len(ids)} task_ids for {len(items)} tasks")
        return self._outcomes(fn, items, ids)

    def _outcomes(self, fn: Callable[..., Any], items: list[tuple], ids: list[Hashable],
                  deadline: float | None = None) -> Iterator[TaskOutcome]:
        for task_id, args in zip(ids, items):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the map did not finish within its timeout")
            if self._stopped:
                yield TaskOutcome(task_id, None, concurrent.futures.CancelledError())
                continue
            value, error = self._run(fn, args, {}, task_id, self.timeout)
            yield TaskOutcome(task_id, value, error)

    def _map_values(self, fn: Callable[..., Any], arguments: list[tuple],
                    timeout: float | None, chunksize: int | None,
                    ordered: bool) -> Iterator[Any]:
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        return (outcome.unwrap() for outcome in
                self._outcomes(fn, arguments, list(range(len(arguments))), deadline))

    def stop_submitting(self) -> None:
        self._stopped = True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shut_down = True
        frozen.release(self._frozen_owner())

    def terminate(self) -> None:
        self._stopped = True
        self.shutdown()
