"""Runs in worker processes: an executor makes them, a storage mode stores them.

:func:`parallel_outcomes` yields the same :class:`~distenv.environment.worker.RunOutcome`
objects as the serial loop, so :class:`~distenv.environment.runner.RunLoop` stores and reports
them identically. The trajectory always reaches the workers once (frozen into them at fork:
pypet pickled it for every run); ``freeze_input=True`` freezes the job and its arguments too.

Failures never hang: a job's exception comes back as a failed outcome with its traceback; a
worker that dies (signal, segfault, OOM kill) or a run over ``timeout`` is turned into a failed
outcome by the executor within seconds. On the first failure the loop stops: running tasks
are killed (their runs stay pending for resume), everything acknowledged stays stored.
"""

from __future__ import annotations

import contextlib
import gc
import pickle
import signal
import threading
import time
from concurrent.futures import CancelledError
from typing import Any, Iterator, Sequence

from distenv.constants import RUN_FAILED
from distenv.environment.worker import HOST, RunOutcome, RunSpec, execute_run
from distenv.errors import RunTimeoutError
from distenv.modes import create_mode
from distenv.modes.local import LocalMode


def _run_frozen(traj: Any, worker_side: Any, job: Any, args: tuple, kwargs: dict,
                index: int) -> RunOutcome:
    """A run whose job and arguments were frozen into the worker."""
    return _finish(traj, worker_side, execute_run(traj, RunSpec(index, job, args, kwargs, True)))


def _run_sent(traj: Any, worker_side: Any, index: int, job: Any, args: tuple,
              kwargs: dict) -> RunOutcome:
    """A run whose job and arguments came with the task."""
    return _finish(traj, worker_side, execute_run(traj, RunSpec(index, job, args, kwargs, True)))


def _finish(traj: Any, worker_side: Any, outcome: RunOutcome) -> RunOutcome:
    outcome = worker_side.handle(traj, outcome)
    if outcome.exception is not None:
        try:
            pickle.dumps(outcome.exception)
        except Exception:  # the traceback text travels; the object cannot
            outcome = RunOutcome(outcome.run_index, outcome.status, None, outcome.leaves,
                                 outcome.start, outcome.finish, outcome.error, outcome.host,
                                 outcome.pid, None, outcome.stored)
    return outcome


def executor_options(spec: Any) -> dict:
    """Keyword arguments of the registered local executors from an ``ExecutorSpec``."""
    options = {"ncores": spec.ncores, "timeout": spec.timeout, "niceness": spec.niceness}
    if spec.backend == "process":
        memory_cap = spec.memory_cap if spec.memory_per_process is None else \
            (spec.memory_cap, spec.memory_per_process)
        options.update(cpu_cap=spec.cpu_cap, memory_cap=memory_cap, swap_cap=spec.swap_cap)
    return options


def make_executor(spec: Any, worker_logging: Any = None) -> Any:
    """The executor of an ``ExecutorSpec``; its workers set up logging first (issue 6)."""
    from distenv.executors import create_executor
    if not isinstance(spec.backend, str):
        return spec.backend  # an Executor object given as executor=
    options = executor_options(spec)
    if worker_logging is not None and spec.backend != "serial":
        from distenv.environment.logging_worker import configure_worker_logging
        options.update(initializer=configure_worker_logging, initargs=(worker_logging,))
    return create_executor(spec.backend, **options)


class GracefulExit:
    """``graceful_exit=True``: the first SIGINT stops new runs, the second raises at once."""

    def __init__(self, enabled: bool, stop: Any):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.stop = stop
        self.interrupted = False
        self._previous: Any = None

    def __enter__(self) -> "GracefulExit":
        if self.enabled:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            raise KeyboardInterrupt
        self.interrupted = True
        self.stop()

    def __exit__(self, *exc_info: Any) -> None:
        if self.enabled:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def raise_if_interrupted(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt("graceful exit: the runs that were active finished and are "
                                    "stored; the others are pending (resume or run again)")


def parallel_outcomes(traj: Any, specs: Sequence[RunSpec], executor_spec: Any, mode_spec: Any,
                      service: Any, env_hash: str, storing: bool,
                      worker_logging: Any = None) -> Iterator[RunOutcome]:
    """Make ``specs`` with the executor and storage mode of the specs; yield their outcomes."""
    specs = list(specs)
    mode = create_mode(mode_spec) if storing else LocalMode(mode_spec)
    executor = make_executor(executor_spec, worker_logging)
    mode.ack_each_run = executor_spec.backend == "process" or executor_spec.timeout is not None
    worker_side = mode.start(traj, service, env_hash, getattr(executor, "ncores", 1) or 1)
    first = specs[0] if specs else None
    shared = first is not None and all(spec.job is first.job and spec.args is first.args and
                                       spec.kwargs is first.kwargs for spec in specs)
    if executor_spec.freeze_input and shared:
        function = executor.freeze(_run_frozen, traj, worker_side, first.job, first.args,
                                   dict(first.kwargs))
        arguments = [(spec.run_index,) for spec in specs]
    else:
        function = executor.freeze(_run_sent, traj, worker_side)
        arguments = [(spec.run_index, spec.job, spec.args, dict(spec.kwargs)) for spec in specs]
    finished = False
    stopper = getattr(executor, "stop_submitting", lambda: None)
    gc_interval = mode_spec.gc_interval if isinstance(mode, LocalMode) else None
    try:
        with GracefulExit(executor_spec.graceful_exit, stopper) as graceful:
            tasks = executor.imap_outcomes(function, arguments,
                                           task_ids=[spec.run_index for spec in specs],
                                           ordered=not executor_spec.immediate_postproc)
            for count, task in enumerate(tasks, 1):
                if hasattr(mode, "check"):
                    mode.check()
                if task.error is None:
                    yield task.value
                elif isinstance(task.error, CancelledError):
                    continue  # never started: graceful exit
                else:
                    yield _failed_outcome(task.task_id, task.error)
                if gc_interval and count % gc_interval == 0:
                    gc.collect()  # LOCAL: the main process stored the run
            finished = True
        graceful.raise_if_interrupted()
    finally:
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(mode.finish if finished else mode.abort)
            if finished:
                executor.shutdown(wait=True)  # workers exit normally and flush their journals
            else:
                executor.terminate()


def _failed_outcome(index: int, error: BaseException) -> RunOutcome:
    """A run the executor could not finish (worker died, timeout, result not sendable)."""
    now = time.time()
    return RunOutcome(index, RUN_FAILED, None, (), now, now,
                      "%s: %s" % (type(error).__name__, error), HOST, 0, error)


def is_timeout(outcome: RunOutcome) -> bool:
    return isinstance(outcome.exception, RunTimeoutError)
