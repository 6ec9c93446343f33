"""Task functions for the executor tests (module level, so a pool can pickle them)."""

from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import time
from pathlib import Path

from distenv.executors.options import BLAS_ENV_VARS


def square(value):
    return value * value


def add(left, right=0):
    return left + right


def fail_on(value, bad=3):
    if value == bad:
        raise ValueError(f"bad value {value}")
    return value


def raise_value_error(value):
    raise ValueError(f"boom {value}")


def kill_self_on(value, bad=3):
    """SIGKILL the process running the task (as the OOM killer would)."""
    if value == bad:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    return value


def segfault_on(value, bad=2):
    if value == bad:
        faulthandler.disable()  # pytest's handler would print a traceback: expected noise
        ctypes.string_at(0)
    return value


def exit_hard(code):
    os._exit(code)


def sys_exit(code):
    raise SystemExit(code)


def sleep_for(seconds, value=None):
    time.sleep(seconds)
    return value


def write_pid_and_sleep(path, seconds):
    """Announce the pid through a file, then sleep (to be killed from outside)."""
    Path(path).with_suffix(".tmp").write_text(str(os.getpid()))
    os.replace(Path(path).with_suffix(".tmp"), path)
    time.sleep(seconds)
    return "slept"


def wait_for_file(path, value, limit=60.0):
    """Return ``value`` once ``path`` exists."""
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.01)
    return value


def sleep_then(value, seconds):
    time.sleep(seconds)
    return value


def niceness(_=None):
    return os.getpriority(os.PRIO_PROCESS, 0)


def blas_environment(_=None):
    return {name: os.environ.get(name) for name in BLAS_ENV_VARS}


def process_id(_=None):
    return os.getpid()


def return_lambda(_=None):
    return lambda: None


class NeedsTwoArguments(Exception):
    """An exception that pickles but does not unpickle (its __init__ needs two arguments)."""

    def __init__(self, first, second):
        super().__init__(f"{first}/{second}")


def raise_awkward(_=None):
    raise NeedsTwoArguments("a", "b")


class PicklingForbidden:
    """A payload that must never be pickled: counts attempts, then refuses."""

    attempts = 0

    def __init__(self, size=1000):
        self.data = list(range(size))

    def __reduce__(self):
        type(self).attempts += 1
        raise TypeError("PicklingForbidden must not be pickled")


def use_payload(payload, offset, index):
    return len(payload.data) + offset + index


def print_and_return(value):
    print(f"task {value}", flush=True)
    return value



def burn(value, seconds):
    """Keep a CPU busy for ``seconds``, then return ``value``."""
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass
    return value


def pid_of_task(_=None):
    return os.getpid()


def pid_or_pid_file(path=None, seconds=0.0):
    """With ``path``: announce the pid through it and sleep; without: return the pid."""
    if path is not None:
        return write_pid_and_sleep(path, seconds)
    return os.getpid()


def sleep_then_clock(seconds):
    """Sleep, then return ``time.monotonic()`` (the moment the task ended)."""
    time.sleep(seconds)
    return time.monotonic()


def collector_view(_=None):
    """What the garbage collector of this process examines: (objects it tracks outside the
    permanent generation, objects frozen there)."""
    import gc
    return len(gc.get_objects()), gc.get_freeze_count()
