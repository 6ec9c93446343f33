"""Stopping: SIGINT handlers, terminate, interpreter exit, a killed parent — no process left."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from distenv.errors import WorkerDiedError
from distenv.executors import get_executor_class

from . import jobs
from .conftest import child_pids

pytestmark = pytest.mark.timeout(120)

PARALLEL = ["pool", "process"]


@pytest.mark.parametrize("backend", ["serial", "pool", "process"])
def test_sigint_handler_stops_submitting(backend, no_leftover_processes):
    options = {} if backend == "serial" else {"ncores": 2}
    executor = get_executor_class(backend)(**options)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: executor.stop_submitting())
    try:
        with executor:
            outcomes = executor.imap_outcomes(jobs.sleep_then,
                                              [(value, 0.05) for value in range(30)])
            first = next(outcomes)
            for pid in child_pids():  # as CTRL+C reaches the whole process group
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    pass  # a process-per-task child that ended since it was listed
            os.kill(os.getpid(), signal.SIGINT)
            rest = list(outcomes)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert first.ok
    cancelled = [o for o in rest if isinstance(o.error, concurrent.futures.CancelledError)]
    finished = [o for o in rest if o.ok]
    assert cancelled
    assert len(cancelled) + len(finished) == 29  # the running ones finished, none failed


@pytest.mark.parametrize("backend", PARALLEL)
def test_terminate_kills_running_tasks(backend, tmp_path, no_leftover_processes):
    executor = get_executor_class(backend)(ncores=2)
    pid_files = [tmp_path / f"task{index}" for index in range(5)]
    futures = [executor.submit(jobs.write_pid_and_sleep, str(path), 60) for path in pid_files]
    deadline = time.monotonic() + 60
    while sum(path.exists() for path in pid_files) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    executor.terminate()
    started = [path.exists() for path in pid_files]
    assert sum(started) == 2
    for future, was_started in zip(futures, started):
        assert future.done()
        if was_started:
            with pytest.raises(WorkerDiedError, match="terminated"):
                future.result(timeout=0)
        else:  # cancelled (a task queued in a worker's pipe counts as running)
            with pytest.raises(concurrent.futures.CancelledError):
                future.result(timeout=0)


@pytest.mark.parametrize("backend", PARALLEL)
def test_keyboard_interrupt_in_the_caller_kills_workers(backend, no_leftover_processes):
    with pytest.raises(KeyboardInterrupt):
        with get_executor_class(backend)(ncores=2) as executor:
            executor.submit(jobs.sleep_for, 60)
            time.sleep(0.2)
            raise KeyboardInterrupt


def run_script(body: str, timeout: float = 60) -> subprocess.CompletedProcess:
    script = textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout, cwd=os.path.dirname(os.path.dirname(
                              os.path.dirname(os.path.abspath(__file__)))))


def is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids, limit=10.0):
    """The pids still running after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if is_running(pid)]
        time.sleep(0.05)
    return alive


@pytest.mark.parametrize("backend", PARALLEL)
def test_exit_without_shutdown_leaves_no_process(backend):
    result = run_script(f"""
        import os, time
        from distenv.executors import get_executor_class
        from tests.executors import jobs
        executor = get_executor_class({backend!r})(ncores=2)
        futures = [executor.submit(jobs.process_id) for _ in range(4)]
        print(" ".join(str(f.result()) for f in futures), flush=True)
        executor.submit(jobs.sleep_for, 0.5)
        executor.submit(jobs.sleep_for, 0.5)  # pending at exit: cancelled or run, not hung
    """)
    assert result.returncode == 0, result.stderr
    assert wait_gone(int(pid) for pid in result.stdout.split()) == []


@pytest.mark.parametrize("backend", PARALLEL)
def test_killed_parent_takes_its_workers_along(backend):
    script = textwrap.dedent(f"""
        import os, sys, time
        from distenv.executors import get_executor_class
        from tests.executors import jobs
        executor = get_executor_class({backend!r})(ncores=2)
        futures = [executor.submit(jobs.sleep_for, 60) for _ in range(2)]
        time.sleep(0.5)
        import psutil
        print(" ".join(str(c.pid) for c in psutil.Process().children()), flush=True)
        time.sleep(60)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True, cwd=root)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert workers
    finally:
        parent.kill()
        parent.wait(30)
        parent.stdout.close()
    left = wait_gone(workers)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "workers outlived their killed parent"


def discard(stream) -> None:
    """Read ``stream`` to its end, keeping nothing."""
    while stream.read(1 << 16):
        pass


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", PARALLEL)
def test_fork_while_another_thread_holds_the_stdout_lock(backend):
    """A thread of the caller blocked in ``sys.stdout.write`` (full pipe) holds the lock of
    stdout's buffer while workers are forked; tasks that print must not inherit that lock and
    hang on it for ever once the pipe drains. (Buffered stdout: PYTHONUNBUFFERED unset.)"""
    script = textwrap.dedent(f"""
        import sys, threading, time
        from distenv.executors import get_executor_class
        from tests.executors import jobs

        def flood():
            while True:
                sys.stdout.write("x" * 65536)

        threading.Thread(target=flood, daemon=True).start()
        time.sleep(0.5)  # the pipe is full: flood() now blocks inside write, holding the lock
        with get_executor_class({backend!r})(ncores=2) as executor:
            futures = [executor.submit(jobs.print_and_return, value) for value in range(4)]
            time.sleep(1.0)
            sys.stderr.write("forked\\n")
            sys.stderr.flush()
            results = [future.result(timeout=20) for future in futures]
        sys.stderr.write(f"done {{results}}\\n")
        sys.stderr.flush()
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    environment = {key: value for key, value in os.environ.items()
                   if key != "PYTHONUNBUFFERED"}
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=root, env=environment)
    try:
        assert process.stderr.readline().strip() == b"forked"
        drain = threading.Thread(target=discard, args=(process.stdout,), daemon=True)
        drain.start()  # now the pipe empties: printing tasks may go on
        line = process.stderr.readline()  # the pytest timeout bounds this
    finally:
        process.kill()
        process.wait(30)
        process.stdout.close()
        process.stderr.close()
    assert line.strip() == b"done [0, 1, 2, 3]"
