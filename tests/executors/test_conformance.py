"""The executor conformance suite: every registered local backend passes the same tests.

Which backend a test applies to is read from ``helpers/capabilities.py`` (the capability table
shared with the Environment-level suite): a test that needs tasks in other processes, concurrent
tasks or configured workers parametrizes ``backend`` with ``backends(<capability>=True)``, and a
sibling test checks what the other backends do instead (a crash ends the caller, an option is
refused, outcomes come in submission order). Nothing is skipped. Later backends (scoop, dask,
batch) add a row to ``EXECUTORS`` there and reuse :class:`TestExecutor`.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distenv.errors import (ConfigurationError, RunFailedError, RunTimeoutError,
                            WorkerDiedError)
from distenv.executors import TaskOutcome, get_executor_class
from distenv.executors.options import BLAS_ENV_VARS
from helpers.capabilities import EXECUTORS, backends

from . import jobs

pytestmark = pytest.mark.timeout(120)

#: Backends whose tasks run in other processes, and those that run them in the caller.
ISOLATING, IN_CALLER = backends(isolates_tasks=True), backends(isolates_tasks=False)
#: Backends that apply niceness and the BLAS variables to their workers, and those without any.
CONFIGURING, UNCONFIGURED = backends(configures_workers=True), backends(configures_workers=False)
#: Backends whose tasks can finish out of submission order, and those that run one at a time.
CONCURRENT, ONE_AT_A_TIME = backends(concurrent=True), backends(concurrent=False)
#: The folder above ``executors/`` and ``helpers/`` (what a child interpreter imports from).
TESTS_FOLDER = Path(__file__).resolve().parent.parent


def wait_for_pid_file(path, limit=30.0) -> int:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.01)
    return int(path.read_text())


class TestExecutor:
    """Behaviour shared by every executor."""

    def test_protocol(self, make_executor):
        executor = make_executor()
        assert isinstance(executor, concurrent.futures.Executor)
        assert executor.supported_modes and "NONE" in executor.supported_modes
        assert get_executor_class(executor.name) is type(executor)

    def test_submit_results(self, make_executor):
        with make_executor() as executor:
            futures = [executor.submit(jobs.square, value) for value in range(12)]
            assert [future.result(timeout=60) for future in futures] == [
                value * value for value in range(12)]
            assert executor.submit(jobs.add, 1, right=2).result(timeout=60) == 3

    def test_as_completed(self, make_executor):
        with make_executor() as executor:
            futures = [executor.submit_task(jobs.square, (value,), task_id=value)
                       for value in range(8)]
            done = {future.result() for future in
                    concurrent.futures.as_completed(futures, timeout=60)}
            assert done == {value * value for value in range(8)}

    def test_done_callback_may_submit(self, make_executor):
        with make_executor() as executor:
            chained = []
            first = executor.submit(jobs.square, 2)
            first.add_done_callback(
                lambda done: chained.append(executor.submit(jobs.square, done.result())))
            assert first.result(timeout=60) == 4
            deadline = time.monotonic() + 60
            while not chained and time.monotonic() < deadline:
                time.sleep(0.01)
            assert chained[0].result(timeout=60) == 16

    def test_map_in_order(self, make_executor):
        with make_executor() as executor:
            assert list(executor.map(jobs.square, range(50))) == [
                value * value for value in range(50)]
            assert list(executor.map(jobs.add, range(5), range(5))) == [0, 2, 4, 6, 8]
            assert sorted(executor.map(jobs.square, range(50), ordered=False)) == sorted(
                value * value for value in range(50))
            assert list(executor.map(jobs.square, [])) == []

    def test_many_tiny_tasks(self, make_executor, backend):
        count = 300 if backend == "process" else 20_000  # a fork per task is not cheap
        with make_executor() as executor:
            results = list(executor.map(jobs.add, range(count), range(count)))
        assert results == [2 * value for value in range(count)]

    def test_exception_carries_remote_traceback(self, make_executor):
        with make_executor() as executor:
            future = executor.submit_task(jobs.raise_value_error, (5,), task_id=17)
            with pytest.raises(RunFailedError) as caught:
                future.result(timeout=60)
        error = caught.value
        assert error.run_index == 17
        assert isinstance(error.__cause__, ValueError)
        assert "boom 5" in str(error) and "task 17" in str(error)
        assert "raise_value_error" in error.remote_traceback
        assert "raise_value_error" in str(error)

    def test_unpicklable_exception(self, make_executor):
        with make_executor() as executor:
            with pytest.raises(RunFailedError) as caught:
                executor.submit(jobs.raise_awkward).result(timeout=60)
        assert "NeedsTwoArguments" in str(caught.value)
        assert "raise_awkward" in caught.value.remote_traceback

    def test_system_exit_is_a_task_failure(self, make_executor):
        with make_executor() as executor:
            with pytest.raises(RunFailedError) as caught:
                executor.submit(jobs.sys_exit, 4).result(timeout=60)
            assert not isinstance(caught.value, WorkerDiedError)
            assert executor.submit(jobs.square, 3).result(timeout=60) == 9

    def test_map_raises_at_failed_task(self, make_executor):
        with make_executor() as executor:
            iterator = executor.map(jobs.fail_on, range(6))
            assert [next(iterator) for _ in range(3)] == [0, 1, 2]
            with pytest.raises(RunFailedError) as caught:
                next(iterator)
            assert caught.value.run_index == 3

    def test_imap_outcomes_go_on_after_failures(self, make_executor):
        with make_executor() as executor:
            outcomes = list(executor.imap_outcomes(
                jobs.fail_on, [(value,) for value in range(8)],
                task_ids=[100 + value for value in range(8)]))
        assert all(isinstance(outcome, TaskOutcome) for outcome in outcomes)
        assert [outcome.task_id for outcome in outcomes] == list(range(100, 108))
        assert [outcome.ok for outcome in outcomes] == [value != 3 for value in range(8)]
        assert outcomes[3].error.run_index == 103
        assert [outcome.value for outcome in outcomes if outcome.ok] == [0, 1, 2, 4, 5, 6, 7]

    @pytest.mark.parametrize("ordered", [True, False])
    def test_imap_result_blocks_are_the_outcomes_without_an_object_per_task(self, make_executor,
                                                                            ordered):
        arguments = [(value,) for value in range(300)]
        ids = [1000 + value for value in range(300)]
        with make_executor() as executor:
            raw = list(executor.imap_result_blocks(jobs.fail_on, arguments, task_ids=ids,
                                                   ordered=ordered))
        assert all(len(block_ids) == len(values) and values for block_ids, values, _ in raw)
        flat = [(task_id, None if position in errors else values[position],
                 errors.get(position))
                for block_ids, values, errors in raw
                for position, task_id in enumerate(block_ids)]
        if ordered:
            assert [row[0] for row in flat] == ids
        flat.sort(key=lambda row: row[0])
        assert [row[:2] for row in flat] == [(1000 + value, None if value == 3 else value)
                                             for value in range(300)]
        failed = [row for row in flat if row[2] is not None]
        assert [row[0] for row in failed] == [1003]
        assert isinstance(failed[0][2], RunFailedError) and "bad value 3" in str(failed[0][2])


    @pytest.mark.parametrize("ordered", [True, False])
    def test_imap_outcome_blocks_are_imap_outcomes_in_lists(self, make_executor, ordered):
        arguments = [(value,) for value in range(300)]
        ids = [1000 + value for value in range(300)]
        with make_executor() as executor:
            blocks = list(executor.imap_outcome_blocks(jobs.fail_on, arguments, task_ids=ids,
                                                       ordered=ordered))
            flat = list(executor.imap_outcomes(jobs.fail_on, arguments, task_ids=ids,
                                               ordered=ordered))
        assert all(isinstance(block, list) and block for block in blocks)
        outcomes = [outcome for block in blocks for outcome in block]
        def comparable(outcome):
            return outcome.task_id, outcome.value, type(outcome.error), str(outcome.error)
        assert sorted(map(comparable, outcomes)) == sorted(map(comparable, flat))
        if ordered:
            assert [outcome.task_id for outcome in outcomes] == ids
        failed = [outcome for outcome in outcomes if not outcome.ok]
        assert [outcome.task_id for outcome in failed] == [1003]
        assert failed[0].error.run_index == 1003 and failed[0].value is None

    @pytest.mark.parametrize("backend", CONCURRENT)
    def test_finish_order(self, make_executor, tmp_path):
        executor = make_executor()
        gate = tmp_path / "gate"
        with executor:
            outcomes = executor.imap_outcomes(jobs.wait_for_file,
                                              [(str(gate), "slow"), (str(gate) + "x", "x")],
                                              ordered=False)
            (tmp_path / "gatex").touch()
            first = next(outcomes)
            gate.touch()
            second = next(outcomes)
        assert (first.value, second.value) == ("x", "slow")

    @pytest.mark.parametrize("backend", ONE_AT_A_TIME)
    def test_unordered_outcomes_come_in_submission_order(self, make_executor):
        """Without concurrency ``ordered=False`` changes nothing: a slow first task is still
        the first outcome."""
        with make_executor() as executor:
            outcomes = list(executor.imap_outcomes(
                jobs.sleep_then, [("slow", 0.3), ("fast", 0.0)], ordered=False))
        assert [outcome.value for outcome in outcomes] == ["slow", "fast"]

    def test_timeout_fails_task_and_goes_on(self, make_executor):
        with make_executor() as executor:
            slow = executor.submit_task(jobs.sleep_for, (60,), task_id=9, timeout=0.5)
            with pytest.raises(RunFailedError) as caught:
                slow.result(timeout=60)
            assert "exceeded the timeout" in str(caught.value)
            assert isinstance(caught.value, RunTimeoutError)
            assert caught.value.run_index == 9
            assert executor.submit(jobs.square, 4).result(timeout=60) == 16

    def test_executor_timeout_applies_to_map(self, make_executor):
        with make_executor(timeout=1.0) as executor:
            outcomes = list(executor.imap_outcomes(
                jobs.sleep_then, [(0, 0.0), (1, 60.0), (2, 0.0)]))
        assert [outcome.ok for outcome in outcomes] == [True, False, True]
        assert "exceeded the timeout" in str(outcomes[1].error)

    @pytest.mark.parametrize("backend", ISOLATING)
    def test_worker_killing_itself(self, make_executor):
        executor = make_executor()
        with executor:
            futures = [executor.submit_task(jobs.kill_self_on, (value,), task_id=value)
                       for value in range(6)]
            with pytest.raises(WorkerDiedError) as caught:
                futures[3].result(timeout=60)
            assert [futures[i].result(timeout=60) for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]
            assert executor.submit(jobs.square, 5).result(timeout=60) == 25
        assert caught.value.run_index == 3
        assert "SIGKILL" in str(caught.value)

    @pytest.mark.parametrize("backend", ISOLATING)
    def test_worker_killing_itself_in_map(self, make_executor):
        executor = make_executor()
        with executor:
            outcomes = list(executor.imap_outcomes(
                jobs.kill_self_on, [(value,) for value in range(400)]))
        failed = [outcome for outcome in outcomes if not outcome.ok]
        assert [outcome.task_id for outcome in failed] == [3]
        assert isinstance(failed[0].error, WorkerDiedError)
        assert [outcome.value for outcome in outcomes if outcome.ok] == [
            value for value in range(400) if value != 3]

    @pytest.mark.parametrize("backend", ISOLATING)
    def test_worker_killed_from_outside(self, make_executor, tmp_path):
        executor = make_executor()
        pid_file = tmp_path / "pid"
        with executor:
            victim = executor.submit_task(jobs.write_pid_and_sleep, (str(pid_file), 60),
                                          task_id=1)
            os.kill(wait_for_pid_file(pid_file), signal.SIGKILL)
            with pytest.raises(WorkerDiedError) as caught:
                victim.result(timeout=60)
            assert list(executor.map(jobs.square, range(10))) == [v * v for v in range(10)]
        assert caught.value.run_index == 1
        assert "signal 9" in str(caught.value)

    @pytest.mark.parametrize("backend", ISOLATING)
    def test_segfault(self, make_executor):
        executor = make_executor()
        with executor:
            outcomes = list(executor.imap_outcomes(
                jobs.segfault_on, [(value,) for value in range(5)]))
        assert [outcome.ok for outcome in outcomes] == [True, True, False, True, True]
        assert isinstance(outcomes[2].error, WorkerDiedError)
        assert "SIGSEGV" in str(outcomes[2].error)

    @pytest.mark.parametrize("backend", ISOLATING)
    def test_os_exit(self, make_executor):
        executor = make_executor()
        with executor:
            with pytest.raises(WorkerDiedError) as caught:
                executor.submit(jobs.exit_hard, 3).result(timeout=60)
            assert executor.submit(jobs.square, 2).result(timeout=60) == 4
        assert "exited with code 3" in str(caught.value)

    @pytest.mark.parametrize("backend", ISOLATING)
    def test_unpicklable_result(self, make_executor):
        executor = make_executor()
        with executor:
            with pytest.raises(RunFailedError) as caught:
                executor.submit(jobs.return_lambda).result(timeout=60)
            assert executor.submit(jobs.square, 6).result(timeout=60) == 36
        assert "cannot be pickled" in str(caught.value)

    @pytest.mark.parametrize("backend", IN_CALLER)
    def test_result_is_handed_over_without_pickling(self, make_executor):
        with make_executor() as executor:
            result = executor.submit(jobs.return_lambda).result(timeout=60)
        assert callable(result) and result() is None

    @pytest.mark.parametrize("backend", IN_CALLER)
    @pytest.mark.parametrize("job, args, exit_code", [
        ("kill_self_on", (3,), -signal.SIGKILL), ("segfault_on", (2,), -signal.SIGSEGV),
        ("exit_hard", (3,), 3)], ids=["sigkill", "segfault", "os-exit"])
    def test_a_crashing_task_ends_the_calling_process(self, backend, job, args, exit_code,
                                                      no_leftover_processes):
        """Tasks run in the caller: what kills a worker elsewhere kills the caller (shown in a
        child interpreter, which stands for the caller)."""
        script = "\n".join([
            "from distenv.executors import get_executor_class",
            "from executors import jobs",
            "from helpers.capabilities import EXECUTORS",
            "executor = get_executor_class(%r)(**EXECUTORS[%r].options)" % (backend, backend),
            "print('before', executor.submit(jobs.square, 3).result(), flush=True)",
            "executor.submit(jobs.%s, *%r)" % (job, args),
            "print('survived', flush=True)"])
        child = subprocess.run([sys.executable, "-c", script], cwd=TESTS_FOLDER,
                               capture_output=True, text=True, timeout=60)
        assert child.returncode == exit_code, child.stderr
        assert child.stdout == "before 9\n"

    @pytest.mark.parametrize("backend", CONFIGURING)
    def test_niceness_applied(self, make_executor, backend):
        executor = make_executor(niceness=min(19, os.getpriority(os.PRIO_PROCESS, 0) + 3))
        wanted = executor.niceness
        with executor:
            assert set(executor.map(jobs.niceness, range(4))) == {wanted}
        assert os.getpriority(os.PRIO_PROCESS, 0) < wanted  # the caller is not reniced

    @pytest.mark.parametrize("backend", CONFIGURING)
    def test_blas_threads_in_workers(self, make_executor, monkeypatch, backend):
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # set by the caller: kept
        executor = make_executor()
        with executor:
            seen = executor.submit(jobs.blas_environment).result(timeout=60)
        assert seen["OMP_NUM_THREADS"] == "1" and seen["MKL_NUM_THREADS"] == "1"
        assert seen["OPENBLAS_NUM_THREADS"] == "3"
        assert "OMP_NUM_THREADS" not in os.environ

    @pytest.mark.parametrize("backend", CONFIGURING)
    def test_blas_threads_none_leaves_environment(self, make_executor, monkeypatch, backend):
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        executor = make_executor(blas_threads=None)
        with executor:
            seen = executor.submit(jobs.blas_environment).result(timeout=60)
        assert seen["OMP_NUM_THREADS"] is None

    @pytest.mark.parametrize("backend", UNCONFIGURED)
    @pytest.mark.parametrize("option", [{"niceness": 5}, {"blas_threads": None}],
                             ids=["niceness", "blas_threads"])
    def test_worker_settings_are_refused_without_workers(self, make_executor, monkeypatch,
                                                         option):
        """No worker processes: the worker settings are not keywords of the executor, and
        tasks see the caller's own niceness and environment."""
        with pytest.raises(TypeError, match=next(iter(option))):
            make_executor(**option)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        with make_executor() as executor:
            niceness = executor.submit(jobs.niceness).result(timeout=60)
            seen = executor.submit(jobs.blas_environment).result(timeout=60)
        assert niceness == os.getpriority(os.PRIO_PROCESS, 0)
        assert seen == {name: os.environ.get(name) for name in BLAS_ENV_VARS}

    def test_frozen_input_is_not_pickled(self, make_executor):
        payload = jobs.PicklingForbidden(size=50)
        jobs.PicklingForbidden.attempts = 0
        executor = make_executor()
        handle = executor.freeze(jobs.use_payload, payload, 1000)
        with executor:
            futures = [executor.submit(handle, index) for index in range(20)]
            assert [future.result(timeout=60) for future in futures] == [
                1050 + index for index in range(20)]
            assert list(executor.map(handle, range(200))) == [1050 + i for i in range(200)]
        assert jobs.PicklingForbidden.attempts == 0

    def test_stop_submitting_cancels_pending(self, make_executor):
        with make_executor() as executor:
            outcomes = executor.imap_outcomes(jobs.sleep_then,
                                              [(value, 0.05) for value in range(40)])
            first = next(outcomes)
            executor.stop_submitting()
            rest = list(outcomes)
            late = executor.submit(jobs.square, 3)
        assert first.ok
        cancelled = [o for o in rest if isinstance(o.error, concurrent.futures.CancelledError)]
        assert cancelled, "pending tasks should have been cancelled"
        assert all(o.ok for o in rest if o not in cancelled)
        assert late.cancelled()

    def test_shutdown_cancel_futures(self, make_executor):
        executor = make_executor()
        futures = [executor.submit(jobs.sleep_then, value, 0.05) for value in range(30)]
        executor.shutdown(wait=True, cancel_futures=True)
        assert all(future.done() for future in futures)
        with pytest.raises(RuntimeError):
            executor.submit(jobs.square, 1)

    def test_shutdown_waits_for_pending(self, make_executor):
        executor = make_executor()
        futures = [executor.submit(jobs.square, value) for value in range(10)]
        executor.shutdown(wait=True)
        assert [future.result(timeout=0) for future in futures] == [v * v for v in range(10)]

    def test_no_processes_left_after_caller_exception(self, make_executor):
        with pytest.raises(KeyError):
            with make_executor() as executor:
                executor.submit(jobs.sleep_then, 1, 0.2)
                raise KeyError("caller failed")

    @pytest.mark.parametrize("options, word", [
        ({"timeout": -1}, "timeout"), ({"timeout": "soon"}, "timeout")])
    def test_bad_arguments(self, backend, options, word, no_leftover_processes):
        with pytest.raises(ConfigurationError, match=word):
            get_executor_class(backend)(**options)


@pytest.mark.parametrize("backend", CONFIGURING)
@pytest.mark.parametrize("options, message", [
    ({"ncores": -1}, "ncores must be an int >= 0"), ({"ncores": 1.5}, "ncores"),
    ({"ncores": True}, "ncores"), ({"niceness": "low"}, "niceness"),
    ({"blas_threads": 0}, "blas_threads"), ({"initializer": 3}, "initializer")])
def test_bad_worker_arguments(backend, options, message, no_leftover_processes):
    with pytest.raises(ConfigurationError, match=message):
        get_executor_class(backend)(**options)


@pytest.mark.parametrize("backend", ISOLATING)
def test_ncores_zero_means_every_cpu(backend):
    import psutil
    executor = get_executor_class(backend)(ncores=0)
    assert executor.ncores == psutil.cpu_count(logical=True)
    executor.shutdown()


@pytest.mark.parametrize("backend", ISOLATING)
def test_spawn_context_receives_frozen_input_at_start(backend, no_leftover_processes):
    """Without fork, frozen input travels once per worker (initializer path)."""
    import multiprocessing
    executor = get_executor_class(backend)(ncores=2,
                                           mp_context=multiprocessing.get_context("spawn"))
    with executor:
        handle = executor.freeze(jobs.add, 10)
        assert list(executor.map(handle, range(5))) == [10, 11, 12, 13, 14]
        with pytest.raises(WorkerDiedError, match="exited with code 3"):
            executor.submit(jobs.exit_hard, 3).result(timeout=60)



@pytest.mark.parametrize("backend", sorted(EXECUTORS))
def test_capabilities_match_the_executor_classes(backend):
    """The capability table the suites are generated from agrees with what each executor
    class declares."""
    capabilities, cls = EXECUTORS[backend], get_executor_class(backend)
    assert capabilities.isolates_tasks == cls.isolates_tasks
    assert capabilities.configures_workers == cls.configures_workers
    assert {mode for mode in capabilities.wrap_modes if mode is not None} <= set(
        cls.supported_modes)


@pytest.mark.parametrize("backend", backends(long_lived_workers=True))
def test_workers_started_means_no_more_forks_for_the_submitted_tasks(make_executor):
    """A sweep writes its first store once ``workers_started`` says so: every task submitted
    before then runs in a process that existed at that moment."""
    import psutil
    with make_executor() as executor:
        blocks = executor.imap_outcome_blocks(jobs.pid_of_task, [(value,) for value in range(200)])
        assert executor.workers_started(30)
        existing = {child.pid for child in psutil.Process().children()}
        pids = {outcome.value for block in blocks for outcome in block}
    assert pids and pids <= existing


def test_no_more_tasks_lets_the_submitted_ones_finish(make_executor):
    """A sweep says ``no_more_tasks()`` once it has submitted its runs: every task submitted
    before runs to its end and its outcome arrives."""
    with make_executor() as executor:
        blocks = executor.imap_outcome_blocks(jobs.square, [(value,) for value in range(300)])
        executor.no_more_tasks()
        values = sorted(outcome.value for block in blocks for outcome in block)
    assert values == [value * value for value in range(300)]


@pytest.mark.parametrize("backend", backends(long_lived_workers=False))
def test_workers_started_is_false_where_processes_start_per_task(make_executor):
    with make_executor() as executor:
        outcomes = executor.imap_outcomes(jobs.square, [(value,) for value in range(4)])
        assert executor.workers_started(0.1) is False
        assert [outcome.value for outcome in outcomes] == [0, 1, 4, 9]
