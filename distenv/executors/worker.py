"""What runs inside a worker process: set-up, the task loop, and the wire format.

Messages parent → pool worker are an 8-byte key followed by the pickled ``(fn, items,
kwargs_list)``: the callable, a list of argument tuples and a list of keyword dicts (or ``None``);
key -1 asks the worker to exit, key -2 carries frozen input. Messages worker → parent are pickled
``(key, start, values, errors, elapsed, last, stopped)``: the values of the tasks
``start .. start+len(values)-1`` of that chunk, ``errors`` mapping an index in ``values`` to an
encoded exception, the seconds the tasks took, whether the chunk is finished, and whether it
ended early because the parent asked to stop. Results are sent when the chunk ends and, while
it runs, about every :data:`FLUSH_INTERVAL` seconds (after the task that crosses it), so the
parent sees finished tasks while a chunk runs without a message per task.

Pool workers also write into a shared array ``control`` (see
:mod:`distenv.executors.handles`) before and after every task, so that when a worker dies the
parent knows exactly which task was running.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable

from distenv.executors import frozen
from distenv.executors.handles import FIRST_KEY, FREEZE_KEY, STOP_KEY
from distenv.executors.options import BLAS_ENV_VARS, WorkerSettings

#: Seconds after which a worker sends back the results it has, mid-chunk. A message costs the
#: parent ~0.2 ms of CPU (receive, unpickle, hand over, wake the caller), taken from the
#: workers' cores: sending each 4 ms task on its own cost 5 % of a 2-core sweep (session 5).
FLUSH_INTERVAL = 0.05
#: Tasks at least this long are followed by a look at the clock and the stop flag.
SLOW_TASKS_SECONDS = 0.001
#: Work between two looks at the clock and the stop flag (at most every 64 tiny tasks).
CHECK_SECONDS = 0.002

#: Exit code of a worker whose initializer raised.
INITIALIZER_FAILED = 75

_PR_SET_PDEATHSIG = 1


def fresh_standard_streams() -> None:
    """Give a forked worker its own ``sys.stdout``/``sys.stderr`` objects on the same files.

    The worker is forked from the dispatcher thread; if another thread of the parent was
    writing to a buffered stream at that moment (a full pipe, a slow terminal), the copy of the
    buffer's lock is held for ever in the child, and the first ``print`` (or the flush at exit)
    would hang. Logging handlers writing to the old objects are pointed at the new ones.
    """
    replaced = {}
    for name in ("stdout", "stderr"):
        old = getattr(sys, name)
        try:
            descriptor = old.fileno()
            line_buffered = bool(getattr(old, "line_buffering", False))
            new = open(descriptor, "w", buffering=1 if line_buffered else -1,
                       encoding=old.encoding, errors=old.errors, closefd=False)
        except Exception:
            continue  # no real file behind it (captured, closed): nothing to lock
        setattr(sys, name, new)
        replaced[id(old)] = new
    if not replaced:
        return
    import logging
    for logger in [logging.getLogger()] + [item for item in
                                            logging.Logger.manager.loggerDict.values()
                                            if isinstance(item, logging.Logger)]:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if stream is not None and id(stream) in replaced:
                handler.stream = replaced[id(stream)]


def prepare_worker(settings: WorkerSettings) -> None:
    """Apply ``settings`` in a fresh worker process.

    SIGINT is ignored (the parent decides about interruptions), the worker is killed when the
    parent goes away (Linux), its niceness is raised to ``settings.niceness`` and the BLAS
    thread variables the caller did not set are set to ``settings.blas_threads``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if settings.parent_pid and os.getppid() != settings.parent_pid:
        os._exit(1)  # the parent died before we got here
    if settings.niceness is not None:
        raise_niceness(settings.niceness)
    if settings.blas_threads is not None:
        limit_blas_threads(settings.blas_threads)


def raise_niceness(niceness: int) -> None:
    """Make the current process at least as nice as ``niceness`` (never less nice)."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if niceness > current:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except (AttributeError, OSError):  # no os.setpriority (Windows): psutil knows
        import psutil
        psutil.Process().nice(niceness)


def limit_blas_threads(threads: int) -> None:
    """Set the BLAS/OpenMP thread variables the caller left unset to ``threads``.

    They govern the libraries the worker loads and the processes it starts. A library loaded
    in the parent before the fork (numpy's OpenBLAS, say) already read its variable: to bound
    it too, set the variables before importing numpy (as pypet advised). Changing its thread
    count after the fork was measured to cost ~15 ms of CPU per worker (OpenBLAS restarts and
    spins its thread pool), so distenv does not.
    """
    for name in BLAS_ENV_VARS:
        if name not in os.environ:
            os.environ[name] = str(threads)


def encode_error(exc: BaseException) -> tuple[bytes | None, str, str, str]:
    """``(pickled exception or None, type name, message, traceback text)`` of ``exc``."""
    text = "".join(traceback.format_exception(exc))
    try:
        blob: bytes | None = pickle.dumps(exc)
        pickle.loads(blob)
    except Exception:
        blob = None
    kind = type(exc)
    return blob, f"{kind.__module__}.{kind.__qualname__}", str(exc), text


def send_results(conn: Connection, key: int, start: int, values: list, errors: dict,
                 elapsed: float, last: bool, stopped: bool = False) -> None:
    """Send one result message; values that cannot be pickled become errors."""
    message = (key, start, values, errors, elapsed, last, stopped)
    try:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        values = list(values)
        errors = dict(errors)
        for index, value in enumerate(values):
            try:
                pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                values[index] = None
                problem = TypeError(f"the task's return value {type(value).__name__} cannot "
                                    f"be pickled to send it back: {exc}")
                errors[index] = encode_error(problem)
        for index, encoded in list(errors.items()):
            try:
                pickle.dumps(encoded)
            except Exception:
                errors[index] = (None,) + tuple(encoded[1:])
        data = pickle.dumps((key, start, values, errors, elapsed, last, stopped),
                            protocol=pickle.HIGHEST_PROTOCOL)
    conn.send_bytes(data)


def run_chunk(conn: Connection, key: int, fn: Callable[..., Any], items: list[tuple],
              kwargs_list: list[dict] | None, control: memoryview | None) -> None:
    """Run the tasks of one chunk in order and stream their results to ``conn``.

    While tasks take a millisecond or more, the stop flag is read after each one; shorter tasks
    are looked at about every :data:`CHECK_SECONDS` of work (every 64 at most). Results are
    sent every :data:`FLUSH_INTERVAL` (a task that takes longer is sent as soon as it ends)
    and when the chunk ends, so a worker that dies loses at most that much finished work,
    which runs again elsewhere.
    """
    if isinstance(fn, frozen.FrozenCall):
        try:
            fn = fn.direct()  # a C-level partial: no Python frame per task
        except RuntimeError:
            pass  # not available here: each task fails with the handle's message
    monotonic = time.monotonic
    values: list[Any] = []
    append = values.append
    errors: dict[int, tuple] = {}
    start = 0
    block_start = last_flush = last_check = monotonic()
    count = len(items)
    if control is not None:
        control[1] = 0
        control[0] = key
        if control[2]:
            send_results(conn, key, 0, [], {}, 0.0, last=True, stopped=True)
            return
    countdown = checked = 1
    for index, args in enumerate(items, 1):
        if control is not None:
            control[1] = index  # task index-1 runs
        try:
            append(fn(*args) if kwargs_list is None else fn(*args, **kwargs_list[index - 1]))
        except BaseException as exc:  # SystemExit from a task is the task's failure too
            errors[len(values)] = encode_error(exc)
            append(None)
        countdown -= 1
        if countdown or index == count:
            continue
        now = monotonic()
        if control is not None and control[2]:
            send_results(conn, key, start, values, errors, now - block_start, last=True,
                         stopped=True)
            return
        per_task = (now - last_check) / checked
        slow = per_task >= SLOW_TASKS_SECONDS
        if now - last_flush >= FLUSH_INTERVAL:
            send_results(conn, key, start, values, errors, now - block_start, last=False)
            start += len(values)
            values, errors = [], {}
            append = values.append
            block_start = last_flush = now
        countdown = checked = 1 if slow else max(1, min(64, int(CHECK_SECONDS / per_task)))
        last_check = now
    send_results(conn, key, start, values, errors, monotonic() - block_start, last=True)


def run_initializer(initializer: Callable[..., Any] | None, initargs: tuple) -> None:
    """Run the user's initializer; on failure print the traceback and exit the worker."""
    if initializer is None:
        return
    try:
        initializer(*initargs)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(INITIALIZER_FAILED)


def close_inherited(fds: list[int]) -> None:
    """Close the parent's descriptors a forked worker inherited (other workers' pipes)."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def set_up_worker(settings: WorkerSettings, initializer: Callable[..., Any] | None,
                  initargs: tuple, frozen_entries: dict | None,
                  inherited_fds: list[int] | None) -> None:
    """The start-up every worker process shares, pool worker or process-per-task child.

    A forked worker (``inherited_fds`` not ``None``) freezes the heap it inherited
    (:func:`gc.freeze`), gets fresh standard streams and closes the parent's descriptors it
    inherited; then ``settings`` are applied
    (:func:`prepare_worker`), frozen input sent to a spawned worker is installed, and the
    user's initializer runs (a failing one ends the worker, :func:`run_initializer`).
    """
    if inherited_fds is not None:  # forked
        gc.freeze()  # the inherited heap stays shared and unexamined (see executors/heap.py)
        fresh_standard_streams()
        close_inherited(inherited_fds)
    prepare_worker(settings)
    if frozen_entries:
        frozen.install(frozen_entries)
    run_initializer(initializer, initargs)


def pool_worker_main(conn: Connection, control_array: Any, settings: WorkerSettings,
                     initializer: Callable[..., Any] | None, initargs: tuple,
                     frozen_entries: dict | None, inherited_fds: list[int] | None) -> None:
    """Entry point of a pool worker: run chunks until the parent closes the pipe."""
    set_up_worker(settings, initializer, initargs, frozen_entries, inherited_fds)
    control = memoryview(control_array).cast("B").cast("q")
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        key = int.from_bytes(data[:8], "little", signed=True)
        if key == STOP_KEY:
            return
        body = pickle.loads(memoryview(data)[8:])
        if key == FREEZE_KEY:
            frozen.install(body)
            continue
        fn, items, kwargs_list = body
        del data, body
        try:
            run_chunk(conn, key, fn, items, kwargs_list, control)
        except (BrokenPipeError, ConnectionResetError):
            return
        del fn, items, kwargs_list


def process_worker_main(conn: Connection, fn: Callable[..., Any], args: tuple,
                        kwargs: dict, settings: WorkerSettings,
                        initializer: Callable[..., Any] | None, initargs: tuple,
                        frozen_entries: dict | None, inherited_fds: list[int] | None) -> None:
    """Entry point of a process-per-task child: run one task, send its result, exit."""
    set_up_worker(settings, initializer, initargs, frozen_entries, inherited_fds)
    try:
        run_chunk(conn, FIRST_KEY, fn, [args], [kwargs] if kwargs else None, None)
    except (BrokenPipeError, ConnectionResetError):
        pass
    conn.close()
