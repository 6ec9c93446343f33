"""Multiprocessing conformance at the Environment level: every executor x storage mode pair.

One behavioural class, :class:`TestSweepConformance`, runs the same sweeps with every pair of
executor (``pool``, ``process``) and ``wrap_mode`` (LOCAL, QUEUE, PIPE, LOCK, NONE), plus the
serial loop, and checks them against a serial reference with real processes and real HDF5
files: results and their order, every run stored exactly once and loadable, failures (a job that
raises, a worker that is SIGKILLed, a timeout), frozen input, ``queue_maxsize``, ``gc_interval``
and finish order. Every test also checks that no child process outlives it.

Which pairs a test applies to is read from the capability table in ``helpers/capabilities.py``
(:func:`each` filters :data:`~helpers.capabilities.CASES` by it). Where a behaviour does not apply
to a pair, a sibling test checks what that pair does instead -- ``freeze_input`` without a pool
is refused, ``queue_maxsize`` and ``gc_interval`` are accepted and ignored where they have no
queue or storing process to act on, a SIGKILL in the serial loop ends the sweep's own process,
serial runs finish in run-index order -- so nothing is skipped. Later backends add a row to that
table and inherit the suite.

Features that do not depend on the storage mode (unpicklable jobs, niceness, the BLAS variables,
``ncores=0``, ``executor=``) are module-level tests parametrized over the executors.

A note on LOCK and NONE with a pool: each worker journals its own runs and acknowledges them
in batches (``ack_seconds``/``ack_runs``), so a worker killed by distenv (the stop after another
run failed, a dead worker) takes the runs it had not acknowledged yet with it. Those runs are
reported pending, never completed, and ``env.run`` makes them again; with ``ack_runs=1`` nothing
completed is lost (see ``docs/multiprocessing.md``).
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import psutil
import pytest
import tables

from distenv import Environment, PickleParameter, load_trajectory
from distenv.environment.runner import RunLoop
from distenv.errors import ConfigurationError, RunFailedError, WorkerDiedError
from helpers.capabilities import EXECUTORS, Case, backends, cases
from helpers.processes import child_pids

#: Executors whose runs execute in worker processes.
WORKER_EXECUTORS = backends(isolates_tasks=True)
#: Executors that apply niceness and the BLAS variables to their workers.
CONFIGURING_EXECUTORS = backends(configures_workers=True)
RUNS = 6
#: The run that fails, dies or hangs in the failure tests.
BAD_RUN = 3


def each(**wanted: bool):
    """Parametrize ``case`` with the pairs whose capabilities have the ``wanted`` values (all
    pairs without arguments); see ``helpers/capabilities.py``."""
    return pytest.mark.parametrize("case", cases(**wanted), ids=str)


# -- processes --------------------------------------------------------------------------------
def assert_no_leftover_children(before: set[int], wait: float = 10.0) -> None:
    deadline = time.monotonic() + wait
    while True:
        left = child_pids(zombies=True) - before
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError("child processes left behind: %s" % sorted(left))
        time.sleep(0.05)


@pytest.fixture
def no_leftover_children():
    before = child_pids(zombies=True)
    yield
    assert_no_leftover_children(before)


# -- sweeps -----------------------------------------------------------------------------------
def make_env(case: Case, name: str = "sweep", runs: int = RUNS, **extra) -> Environment:
    env = Environment(name, filename="hdf5/%s.hdf5" % name, report_progress=False,
                      **case.keywords(**extra))
    traj = env.trajectory
    traj.f_add_parameter("x", 0.0, comment="the explored value")
    traj.f_add_parameter("label", "run")
    traj.f_explore({"x": [0.5 * index for index in range(runs)]})
    return env


def typed_job(traj):
    """Results of several types: scalar, array and string (column-held), dict and DataFrame
    (irregular, per-run)."""
    index = traj.v_idx
    traj.f_add_result("scalar", traj.x * 2.0, comment="twice x")
    traj.f_add_result("array", np.arange(3) * traj.x)
    traj.f_add_result("text", "%s-%d" % (traj.label, index))
    traj.f_add_result("mapping", {"index": index, "square": traj.x ** 2})
    traj.f_add_result("frame", pd.DataFrame({"x": [traj.x] * (index + 1)}))
    return traj.x ** 2, "%s-%d" % (traj.label, index)


def expected_data(x: float, index: int) -> dict:
    return {"scalar": x * 2.0, "array": np.arange(3) * x, "text": "run-%d" % index,
            "mapping": {"index": index, "square": x ** 2},
            "frame": pd.DataFrame({"x": [x] * (index + 1)})}


def failing_job(traj):
    if traj.v_idx == BAD_RUN:
        time.sleep(0.3)  # the other runs are done (and handed over) by now
        raise ValueError("run %d is broken" % traj.v_idx)
    return typed_job(traj)


def killing_job(traj):
    if traj.v_idx == BAD_RUN:
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    return typed_job(traj)


def hanging_job(traj):
    if traj.v_idx == BAD_RUN:
        time.sleep(120)
    return typed_job(traj)


def pid_job(traj):
    traj.f_add_result("scalar", traj.x)
    return os.getpid()


def slow_first_job(traj):
    time.sleep(0.6 if traj.v_idx == 0 else 0.01)
    traj.f_add_result("scalar", traj.x)
    return traj.v_idx


def last_first_job(traj):
    """Run 0 finishes last: it waits until another run has finished (a marker file in the
    test's folder), then a little longer for that run's outcome to travel."""
    if traj.v_idx == 0:
        deadline = time.monotonic() + 60
        while not os.path.exists("another_run_done") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
    else:
        open("another_run_done", "a").close()
    traj.f_add_result("scalar", traj.x)
    return traj.v_idx


def mapped_job(traj, number, letter, scale=1.0):
    traj.f_add_result("text", "%d-%s" % (number, letter))
    traj.f_add_result("scalar", traj.x * scale)
    return number


class PickleCounter:
    """An object that appends one character to ``path`` each time it is pickled."""

    def __init__(self, path: str, value: int = 7):
        self.path = path
        self.value = value

    def __reduce__(self):
        with open(self.path, "a") as counter:
            counter.write("p")
        return (PickleCounter, (self.path, self.value))

    def __eq__(self, other):
        return isinstance(other, PickleCounter) and other.value == self.value

    def count(self) -> int:
        if not os.path.exists(self.path):
            return 0
        with open(self.path) as counter:
            return len(counter.read())


def frozen_job(traj, argument):
    traj.f_add_result("scalar", traj.x + argument.value + traj.counted.value)
    return argument.value


def serial_reference(runs: int = RUNS) -> list:
    """What the serial loop returns for :func:`typed_job` (made with a real serial sweep)."""
    env = make_env(Case("serial"), name="reference", runs=runs)
    return env.run(typed_job)


# -- checks -------------------------------------------------------------------------------------
def statuses(loaded) -> list[str]:
    return list(loaded.results_frame()["status"])


def completed_in_file(loaded) -> set[int]:
    return {index for index, status in enumerate(statuses(loaded)) if status == "completed"}


def assert_run_data(loaded, indices) -> None:
    """The five results of :func:`typed_job` load with the right values for ``indices``."""
    xs = [0.5 * index for index in range(len(loaded))]
    by_key = {key: loaded.f_get_from_runs(key, fast_access=True)
              for key in ("scalar", "array", "text", "mapping", "frame")}
    for index in indices:
        run_name = loaded.f_idx_to_run(index)
        expected = expected_data(xs[index], index)
        assert by_key["scalar"][run_name] == expected["scalar"]
        np.testing.assert_array_equal(by_key["array"][run_name], expected["array"])
        assert by_key["text"][run_name] == expected["text"]
        assert by_key["mapping"][run_name] == expected["mapping"]
        pd.testing.assert_frame_equal(by_key["frame"][run_name], expected["frame"])
    for key, values in by_key.items():  # nothing of runs that are not completed
        assert set(values) <= {loaded.f_idx_to_run(index) for index in completed_in_file(loaded)}


def assert_stored_once(path: str, name: str) -> None:
    """At the HDF5 level every run is completed once and has one row or entry per result.

    (The run table is appended to: a run that failed and was made again has a failed row and
    a completed row; the last one counts.)
    """
    with tables.open_file(path) as h5:
        group = h5.get_node("/" + name)
        rows = group.run_table.read()
        completed = rows["index"][rows["status"] == 1].tolist()
        assert len(completed) == len(set(completed))
        for table in h5.walk_nodes(group._v_pathname + "/results/runs/crun", "Table"):
            run_indices = table.col("run_index").tolist()
            assert len(run_indices) == len(set(run_indices)), table._v_pathname
        if "irregular_index" in group:
            pairs = [(key, index) for key, index in zip(group.irregular_index.col("key").tolist(),
                                                        group.irregular_index.col("index")
                                                        .tolist())]
            assert len(pairs) == len(set(pairs))


def assert_memory_agrees_with_file(env, loaded) -> None:
    """The Environment's trajectory never claims a run the file does not hold."""
    in_memory = [env.trajectory.f_get_run_information(index)["status"]
                 for index in range(len(loaded))]
    assert in_memory == statuses(loaded)


def collecting_pids(case: Case, monkeypatch, log) -> list[int]:
    """Make an 8-run sweep with ``gc_interval=2``; the pids of every ``gc.collect()`` call,
    in the main process and in every process forked from it, in call order."""
    collect = gc.collect

    def counting_collect(*args):
        with open(log, "a") as out:
            out.write("%d\n" % os.getpid())
        return collect(*args)

    env = make_env(case, runs=8, gc_interval=2)
    with monkeypatch.context() as patch:
        patch.setattr(gc, "collect", counting_collect)  # forked processes inherit it
        env.run(typed_job)
    return [int(line) for line in log.read_text().split()] if log.exists() else []


# -- the suite ----------------------------------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.usefixtures("no_leftover_children")
class TestSweepConformance:
    """What every executor x storage mode pair does at the Environment level."""

    @each()
    def test_results_equal_the_serial_reference_and_every_run_is_stored_once(self, case):
        reference = serial_reference()
        env = make_env(case)
        results = env.run(typed_job)
        assert results == reference
        assert [index for index, _ in results] == list(range(RUNS))

        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert statuses(loaded) == ["completed"] * RUNS
        assert loaded.f_is_completed()
        assert_run_data(loaded, range(RUNS))
        assert_stored_once("hdf5/sweep.hdf5", "sweep")
        frame = loaded.results_frame()
        assert list(frame["scalar"]) == [0.5 * index * 2.0 for index in range(RUNS)]
        assert list(frame["text"]) == ["run-%d" % index for index in range(RUNS)]
        for index in range(RUNS):
            info = loaded.f_get_run_information(index)
            assert info["completed"] == 1 and info["host"] == socket.gethostname()
            assert info["finish_timestamp"] >= info["timestamp"] > 0
            assert info["env_hash"] == env.hexsha[:7]
        assert_memory_agrees_with_file(env, loaded)

    @each()
    def test_run_table_names_the_process_that_made_each_run(self, case):
        env = make_env(case)
        results = env.run(pid_job)
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        recorded = [loaded.f_get_run_information(index)["pid"] for index in range(RUNS)]
        assert recorded == [pid for _, pid in results]
        if not case.isolates_tasks:
            assert set(recorded) == {os.getpid()}
        else:
            assert os.getpid() not in recorded

    @each()
    def test_run_map_gives_each_run_its_own_arguments(self, case):
        env = make_env(case)
        results = env.run_map(mapped_job, range(10, 10 + RUNS), "abcdef",
                              scale=[float(index) for index in range(RUNS)])
        assert results == [(index, 10 + index) for index in range(RUNS)]
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        texts = loaded.f_get_from_runs("text", fast_access=True)
        assert list(texts.values()) == ["%d-%s" % (10 + index, letter)
                                        for index, letter in enumerate("abcdef")]
        scalars = loaded.f_get_from_runs("scalar", fast_access=True)
        assert list(scalars.values()) == [0.5 * index * index for index in range(RUNS)]

    @each()
    def test_a_job_that_raises_stops_the_sweep_with_its_remote_traceback(self, case):
        env = make_env(case)
        with pytest.raises(RunFailedError) as info:
            env.run(failing_job)
        error = info.value
        assert type(error) is RunFailedError
        assert error.run_index == BAD_RUN
        assert "ValueError: run 3 is broken" in error.remote_traceback
        assert "failing_job" in error.remote_traceback  # the job's own frame, from the worker
        assert "run %d (run_%08d) of trajectory 'sweep' failed" % (BAD_RUN, BAD_RUN) in str(error)

        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert statuses(loaded)[BAD_RUN] == "failed"
        assert "run 3 is broken" in loaded.f_get_run_information(BAD_RUN)["error"]
        completed = completed_in_file(loaded)
        if not case.workers_buffer_runs:  # made before run 3, in run-index order
            assert set(range(BAD_RUN)) <= completed
        assert completed <= set(range(RUNS)) - {BAD_RUN}
        assert_run_data(loaded, completed)
        assert_stored_once("hdf5/sweep.hdf5", "sweep")
        assert_memory_agrees_with_file(env, loaded)

        results = env.run(typed_job)  # the rest, including the failed run
        assert [index for index, _ in results] == sorted(set(range(RUNS)) - completed)
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert statuses(loaded) == ["completed"] * RUNS
        assert_run_data(loaded, range(RUNS))
        assert_stored_once("hdf5/sweep.hdf5", "sweep")

    @each()
    def test_with_ack_runs_1_runs_made_before_a_failure_are_stored(self, case):
        """Where workers acknowledge in batches (``case.workers_buffer_runs``) ``ack_runs=1``
        is what makes this hold; every other pair accepts ``ack_runs`` and holds it anyway."""
        env = make_env(case, ack_runs=1)
        with pytest.raises(RunFailedError):
            env.run(failing_job)
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert set(range(BAD_RUN)) <= completed_in_file(loaded)
        assert_run_data(loaded, completed_in_file(loaded))

    @pytest.mark.kill
    @each(isolates_tasks=True)
    def test_a_worker_killed_by_sigkill_is_reported_and_nothing_hangs(self, case):
        env = make_env(case)
        started = time.monotonic()
        with pytest.raises(WorkerDiedError) as info:
            env.run(killing_job)
        assert time.monotonic() - started < 60
        error = info.value
        assert error.run_index == BAD_RUN
        assert "SIGKILL" in str(error) and "signal 9" in str(error)

        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert statuses(loaded)[BAD_RUN] == "failed"
        assert "SIGKILL" in loaded.f_get_run_information(BAD_RUN)["error"]
        completed = completed_in_file(loaded)
        if not case.workers_buffer_runs:
            assert set(range(BAD_RUN)) <= completed
        assert_run_data(loaded, completed)
        assert_memory_agrees_with_file(env, loaded)
        env.run(typed_job)
        assert statuses(load_trajectory("sweep", filename="hdf5/sweep.hdf5")) == \
            ["completed"] * RUNS

    @pytest.mark.kill
    @each(isolates_tasks=False)
    def test_a_sigkill_in_a_job_run_in_the_caller_ends_the_sweep_process(self, case):
        """The job runs in the process that called ``env.run``, so a SIGKILL there ends that
        process (a child interpreter here, standing for the caller); the runs acknowledged
        before it (``ack_runs=1``) are in the file with their data, the killed run is not."""
        script = "\n".join([
            "from helpers.capabilities import Case",
            "import test_multiproc_conformance as suite",
            "env = suite.make_env(Case(%r, %r), ack_runs=1)" % (case.executor, case.mode),
            "env.run(suite.killing_job)",
            "print('survived', flush=True)"])
        child = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=100,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                [os.path.dirname(os.path.abspath(__file__)), os.environ.get("PYTHONPATH", "")])))
        assert child.returncode == -signal.SIGKILL, child.stderr
        assert "survived" not in child.stdout
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert completed_in_file(loaded) == set(range(BAD_RUN))
        assert_run_data(loaded, range(BAD_RUN))

    @pytest.mark.slow
    @each()
    def test_a_run_over_the_timeout_fails_and_the_others_complete(self, case):
        env = make_env(case, timeout=3.0)
        results = env.run(hanging_job)
        assert [index for index, _ in results] == [index for index in range(RUNS)
                                                   if index != BAD_RUN]
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        expected = ["completed"] * RUNS
        expected[BAD_RUN] = "failed"
        assert statuses(loaded) == expected
        assert "timeout" in loaded.f_get_run_information(BAD_RUN)["error"].lower()
        assert_run_data(loaded, completed_in_file(loaded))
        assert_memory_agrees_with_file(env, loaded)

    @each(freezes_input=True)
    def test_freeze_input_sends_job_arguments_and_trajectory_once(self, case, tmp_path):
        runs = 12
        for frozen in (True, False):
            name = "frozen" if frozen else "sent"
            counted = PickleCounter(str(tmp_path / (name + "-trajectory.txt")))
            argument = PickleCounter(str(tmp_path / (name + "-argument.txt")), value=2)
            env = make_env(case, name=name, runs=runs, freeze_input=frozen)
            env.trajectory.f_add_parameter(PickleParameter, "counted", counted)
            results = env.run(frozen_job, argument)
            assert results == [(index, 2) for index in range(runs)]
            loaded = load_trajectory(name, filename="hdf5/%s.hdf5" % name)
            assert list(loaded.f_get_from_runs("scalar", fast_access=True).values()) == \
                [0.5 * index + 9 for index in range(runs)]
            # the trajectory reaches the workers by fork, never once per run (pypet pickled it
            # for each run): only storing it pickles the object, independent of the run count
            assert counted.count() < runs
            if frozen:
                assert argument.count() == 0  # job and arguments inherited at fork
            else:
                assert argument.count() >= 1  # sent with the tasks

    @each(freezes_input=False)
    def test_freeze_input_without_long_lived_workers_is_refused(self, case):
        """Refused when the Environment is made, before any file is written
        (docs/multiprocessing.md, "Bad options")."""
        with pytest.raises(ConfigurationError, match="freeze_input=True needs use_pool=True"):
            make_env(case, freeze_input=True)
        assert not os.path.exists("hdf5/sweep.hdf5")

    @each(bounded_queue=True)
    def test_queue_maxsize_1_still_completes(self, case):
        env = make_env(case, runs=20, queue_maxsize=1)
        results = env.run(typed_job)
        assert [index for index, _ in results] == list(range(20))
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert statuses(loaded) == ["completed"] * 20
        assert_run_data(loaded, range(20))

    @each(bounded_queue=False)
    def test_queue_maxsize_is_accepted_and_ignored_without_a_queue(self, case):
        env = make_env(case, queue_maxsize=1)
        assert env.run(typed_job) == serial_reference()
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert statuses(loaded) == ["completed"] * RUNS
        assert_stored_once("hdf5/sweep.hdf5", "sweep")

    @each(collects_garbage=True)
    def test_gc_interval_collects_in_the_storing_process(self, case, monkeypatch,
                                                         tmp_path):
        pids = collecting_pids(case, monkeypatch, tmp_path / "gc.txt")
        if case.mode == "LOCAL":
            assert pids.count(os.getpid()) == 4
        else:
            writers = {pid for pid in pids if pid != os.getpid()}
            assert len(writers) == 1 and pids.count(writers.pop()) == 4
        assert statuses(load_trajectory("sweep", filename="hdf5/sweep.hdf5")) == \
            ["completed"] * 8

    @each(collects_garbage=False)
    def test_gc_interval_is_accepted_and_ignored_without_a_storing_process(
            self, case, monkeypatch, tmp_path):
        """The serial loop, LOCK and NONE: no process calls ``gc.collect()`` for it."""
        assert collecting_pids(case, monkeypatch, tmp_path / "gc.txt") == []
        assert statuses(load_trajectory("sweep", filename="hdf5/sweep.hdf5")) == \
            ["completed"] * 8

    @each(concurrent=True)
    def test_immediate_postproc_hands_results_over_in_finish_order(self, case):
        env = make_env(case, immediate_postproc=True)
        options = env.options
        loop = RunLoop(env.trajectory, options.run, env.hexsha[:7], None, options.executor,
                       options.storage_mode)
        indices = loop.pending()
        results = loop.execute(loop.specs(indices, slow_first_job, [()] * RUNS, [{}] * RUNS),
                               RUNS)
        order = [index for index, _ in results]
        assert sorted(order) == list(range(RUNS))
        assert order[0] != 0 and order != sorted(order)  # run 0 sleeps, the others do not
        loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
        assert statuses(loaded) == ["completed"] * RUNS

    @each(concurrent=True)
    def test_env_run_with_immediate_postproc_returns_finish_order(self, case):
        env = make_env(case, immediate_postproc=True)
        order = [index for index, _ in env.run(last_first_job)]
        assert sorted(order) == list(range(RUNS)) and order[0] != 0

    @each(concurrent=False)
    def test_immediate_postproc_one_run_at_a_time_keeps_run_index_order(self, case):
        """One run at a time finishes in run-index order, however long each takes: the run
        loop hands the runs over, and ``env.run`` returns them, in that order."""
        env = make_env(case, immediate_postproc=True)
        options = env.options
        loop = RunLoop(env.trajectory, options.run, env.hexsha[:7], None, options.executor,
                       options.storage_mode)
        results = loop.execute(loop.specs(loop.pending(), slow_first_job, [()] * RUNS,
                                          [{}] * RUNS), RUNS)
        assert [index for index, _ in results] == list(range(RUNS))
        again = make_env(case, name="again", immediate_postproc=True)
        assert [index for index, _ in again.run(slow_first_job)] == list(range(RUNS))
        for name in ("sweep", "again"):
            loaded = load_trajectory(name, filename="hdf5/%s.hdf5" % name)
            assert statuses(loaded) == ["completed"] * RUNS


# -- features that do not depend on the storage mode --------------------------------------------
def locked_closure_job():
    """A job that cannot be pickled: a closure over a lock."""
    lock = threading.Lock()

    def job(traj):
        with lock:
            traj.f_add_result("scalar", traj.x)
        return traj.x

    return job


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("no_leftover_children")
def test_unpicklable_job_with_a_pool_says_what_to_do():
    env = make_env(Case("pool", "QUEUE"))
    with pytest.raises(ConfigurationError) as info:
        env.run(locked_closure_job())
    message = str(info.value)
    assert "cannot be pickled" in message
    assert "use_pool=False" in message and "make it picklable" in message
    loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
    assert statuses(loaded) == ["pending"] * RUNS
    assert env.run(typed_job) == serial_reference()  # the same Environment goes on


@pytest.mark.timeout(120)
@pytest.mark.parametrize("keywords", [{"use_pool": False}, {"use_pool": True,
                                                             "freeze_input": True}],
                         ids=["fork-per-run", "pool-frozen"])
@pytest.mark.usefixtures("no_leftover_children")
def test_unpicklable_job_works_when_forked(keywords):
    env = make_env(Case("pool", "LOCAL"), **keywords)
    results = env.run(locked_closure_job())
    assert results == [(index, 0.5 * index) for index in range(RUNS)]
    loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
    assert list(loaded.f_get_from_runs("scalar", fast_access=True).values()) == \
        [0.5 * index for index in range(RUNS)]


def worker_settings_job(traj):
    from distenv.executors import BLAS_ENV_VARS
    traj.f_add_result("scalar", traj.x)
    return (os.getpid(), os.getpriority(os.PRIO_PROCESS, 0),
            {name: os.environ.get(name) for name in BLAS_ENV_VARS})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", CONFIGURING_EXECUTORS)
@pytest.mark.usefixtures("no_leftover_children")
def test_niceness_is_applied_to_the_workers(executor):
    env = make_env(Case(executor, "QUEUE"), niceness=5)
    results = env.run(worker_settings_job)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert {niceness for _, (_, niceness, _) in results} == {max(5, mine)}
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # the main process keeps its own


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", CONFIGURING_EXECUTORS)
@pytest.mark.usefixtures("no_leftover_children")
def test_workers_get_one_blas_thread_unless_the_caller_says_otherwise(executor, monkeypatch):
    from distenv.executors import BLAS_ENV_VARS
    for name in BLAS_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # overridable: the caller's value wins
    env = make_env(Case(executor, "LOCAL"))
    results = env.run(worker_settings_job)
    for _, (_, _, variables) in results:
        assert variables["OPENBLAS_NUM_THREADS"] == "1"
        assert variables["MKL_NUM_THREADS"] == "1"
        assert variables["OMP_NUM_THREADS"] == "3"
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # only the workers' environment changes


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", WORKER_EXECUTORS)
@pytest.mark.usefixtures("no_leftover_children")
def test_ncores_0_uses_every_cpu(executor):
    env = make_env(Case(executor, "QUEUE"), runs=8, ncores=0)
    results = env.run(worker_settings_job)
    assert [index for index, _ in results] == list(range(8))
    workers = {pid for _, (pid, _, _) in results}
    assert os.getpid() not in workers
    if executor == "pool":
        assert len(workers) <= psutil.cpu_count(logical=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", sorted(EXECUTORS))
@pytest.mark.usefixtures("no_leftover_children")
def test_executor_keyword_overrides_the_flags(executor):
    env = Environment("sweep", filename="hdf5/sweep.hdf5", report_progress=False,
                      executor=executor, ncores=2, wrap_mode="QUEUE")
    env.trajectory.f_add_parameter("x", 0.0)
    env.trajectory.f_explore({"x": [0.5 * index for index in range(RUNS)]})
    results = env.run(pid_job)
    pids = {pid for _, pid in results}
    assert (pids == {os.getpid()}) == (executor == "serial")
    assert statuses(load_trajectory("sweep", filename="hdf5/sweep.hdf5")) == \
        ["completed"] * RUNS
