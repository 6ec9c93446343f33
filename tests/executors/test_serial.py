"""What only the ``serial`` backend does: tasks in the caller, KeyboardInterrupt, alarms."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from distenv.executors import get_executor_class

from . import jobs

pytestmark = pytest.mark.timeout(60)

SerialExecutor = get_executor_class("serial")


def interrupt(_=None):
    raise KeyboardInterrupt


def test_tasks_run_in_the_caller():
    with SerialExecutor() as executor:
        assert executor.submit(jobs.process_id).result() == os.getpid()
        assert executor.submit(lambda: 5).result() == 5  # nothing is pickled


def test_keyboard_interrupt_is_not_a_task_failure():
    with SerialExecutor() as executor:
        with pytest.raises(KeyboardInterrupt):
            executor.submit(interrupt)


def test_map_is_lazy():
    calls = []
    with SerialExecutor() as executor:
        iterator = executor.map(calls.append, range(3))
        assert calls == []
        list(iterator)
    assert calls == [0, 1, 2]


def test_alarm_handler_is_restored():
    previous = signal.getsignal(signal.SIGALRM)
    with SerialExecutor(timeout=5) as executor:
        assert executor.submit(jobs.square, 3).result() == 9
    assert signal.getsignal(signal.SIGALRM) is previous


def test_timeout_outside_the_main_thread_warns():
    results = []

    def run():
        with pytest.warns(RuntimeWarning, match="main thread"):
            results.append(SerialExecutor(timeout=1).submit(jobs.square, 2).result())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert results == [4]


def test_map_timeout_bounds_the_iteration():
    with SerialExecutor() as executor:
        iterator = executor.map(jobs.sleep_then, [1, 2, 3], [0.3, 0.3, 0.3], timeout=0.1)
        assert next(iterator) == 1
        with pytest.raises(TimeoutError):
            next(iterator)
