"""CTRL+C during a sweep: ``graceful_exit`` and plain SIGINT, with real processes.

Each test runs a sweep script in a subprocess in its own session (``start_new_session=True``)
and sends SIGINT to the whole process group with ``os.killpg`` -- what CTRL+C in a terminal
does -- while runs are active. The jobs log when they start and end (under a file lock, so the
order of starts is exact); the first ``workers`` runs to start are short, the later ones long,
so the signal arrives while a known set of runs is active.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from distenv import load_trajectory

pytestmark = pytest.mark.timeout(180)

RUNS = 12

SWEEP_SCRIPT = textwrap.dedent('''
    import fcntl, json, os, sys, time
    from distenv import Environment

    keywords, workers, short, long = json.loads(sys.argv[1]), *map(float, sys.argv[2:5])
    LOG = os.path.abspath("runs.log")

    def job(traj):
        with open(LOG, "a+") as log:
            fcntl.flock(log, fcntl.LOCK_EX)
            log.write("start %d\\n" % traj.v_idx)
            log.flush()
            log.seek(0)
            position = sum(1 for line in log if line.startswith("start"))
            fcntl.flock(log, fcntl.LOCK_UN)
        time.sleep(short if position <= workers else long)
        traj.f_add_result("value", traj.v_idx * 10)
        with open(LOG, "a") as log:
            log.write("end %d\\n" % traj.v_idx)
        return traj.v_idx

    env = Environment("sweep", filename="hdf5/sweep.hdf5", report_progress=False, **keywords)
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": list(range(RUNS))})
    env.run(job)
    print("FINISHED", flush=True)
''').replace("RUNS", str(RUNS))

#: (id, Environment keywords, worker count)
SETUPS = [
    ("pool-QUEUE", {"multiproc": True, "use_pool": True, "ncores": 2, "wrap_mode": "QUEUE"}, 2),
    ("pool-LOCK", {"multiproc": True, "use_pool": True, "ncores": 2, "wrap_mode": "LOCK"}, 2),
    ("pool-NONE", {"multiproc": True, "use_pool": True, "ncores": 2, "wrap_mode": "NONE"}, 2),
    ("process-LOCAL", {"multiproc": True, "use_pool": False, "ncores": 2, "wrap_mode": "LOCAL"},
     2),
    ("process-PIPE", {"multiproc": True, "use_pool": False, "ncores": 2, "wrap_mode": "PIPE"},
     2),
    ("serial", {"multiproc": False}, 1),
]


class Sweep:
    """The sweep script running in its own session, and what its jobs logged."""

    def __init__(self, folder, keywords: dict, workers: int, short: float, long: float):
        self.folder = folder
        self.workers = workers
        script = folder / "sweep.py"
        script.write_text(SWEEP_SCRIPT)
        self.process = subprocess.Popen(
            [sys.executable, str(script), json.dumps(keywords), str(workers), str(short),
             str(long)], cwd=folder, start_new_session=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.output = self.errors = ""

    def log(self) -> tuple[set[int], set[int]]:
        """Run indices that started and that ended, from the jobs' log."""
        path = self.folder / "runs.log"
        started, ended = set(), set()
        if path.exists():
            for line in path.read_text().splitlines():
                what, _, index = line.partition(" ")
                if index.isdigit():
                    (started if what == "start" else ended).add(int(index))
        return started, ended

    def wait_for_starts(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.log()[0]) < count:
            if self.process.poll() is not None:
                raise AssertionError("the sweep ended early:\n" + self.process.stderr.read())
            if time.monotonic() > deadline:
                raise AssertionError("fewer than %d runs started within %g s" % (count, timeout))
            time.sleep(0.02)

    def interrupt(self) -> None:
        """CTRL+C: SIGINT to the whole process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the sweep to end (the test fails if it takes more than ``timeout``)."""
        try:
            self.output, self.errors = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the sweep did not end within %g s of the interrupt" % timeout)
        return self.process.returncode

    def assert_group_gone(self, timeout: float = 10.0) -> None:
        """No process of the sweep's group (workers, writer) outlives it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            if time.monotonic() > deadline:
                raise AssertionError("processes of the sweep are still running")
            time.sleep(0.05)

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stored(self) -> tuple[list[str], dict]:
        loaded = load_trajectory("sweep", filename=str(self.folder / "hdf5" / "sweep.hdf5"))
        values = loaded.f_get_from_runs("value", fast_access=True)
        return list(loaded.results_frame()["status"]), values


@pytest.fixture
def sweeps(tmp_path, spawn):
    """``sweeps(keywords, workers, short, long)``: a :class:`Sweep` in ``tmp_path``, killed at
    the end of the test if it still runs (the ``spawn`` fixture)."""
    return lambda keywords, workers, short, long: spawn(Sweep, tmp_path, keywords, workers,
                                                        short, long)


def completed(statuses: list[str]) -> set[int]:
    return {index for index, status in enumerate(statuses) if status == "completed"}


@pytest.mark.parametrize("setup", SETUPS, ids=[setup[0] for setup in SETUPS])
def test_graceful_exit_lets_active_runs_finish_and_starts_no_more(sweeps, setup):
    _, keywords, workers = setup
    sweep = sweeps(dict(keywords, graceful_exit=True), workers, short=0.3, long=1.5)
    sweep.wait_for_starts(2 * workers)  # the first runs ended, the next ones are active
    time.sleep(0.2)
    started, ended = sweep.log()
    active = started - ended
    assert active
    sweep.interrupt()
    returncode = sweep.finish()

    assert returncode != 0 and "FINISHED" not in sweep.output
    assert "KeyboardInterrupt" in sweep.errors
    assert "graceful exit: the runs that were active finished and are stored" in sweep.errors
    finally_started, finally_ended = sweep.log()
    assert finally_started == started  # no run started after the signal
    assert finally_ended == started  # the active runs finished
    statuses, values = sweep.stored()
    assert completed(statuses) == started  # ... and are stored, with the runs before them
    assert set(statuses[index] for index in set(range(RUNS)) - started) == {"pending"}
    assert values == {"run_%08d" % index: index * 10 for index in sorted(started)}
    sweep.assert_group_gone()


@pytest.mark.parametrize("setup", SETUPS, ids=[setup[0] for setup in SETUPS])
def test_a_second_sigint_stops_at_once(sweeps, setup):
    name, keywords, workers = setup
    sweep = sweeps(dict(keywords, graceful_exit=True), workers, short=0.3, long=30.0)
    sweep.wait_for_starts(2 * workers)
    time.sleep(0.2)
    started, ended = sweep.log()
    active = started - ended
    sweep.interrupt()
    time.sleep(0.3)
    sweep.interrupt()
    returncode = sweep.finish()  # the active runs would take 30 s more

    assert returncode != 0 and "KeyboardInterrupt" in sweep.errors
    assert sweep.log()[0] == started
    statuses, _ = sweep.stored()
    assert not completed(statuses) & active  # stopped, not finished
    assert completed(statuses) <= ended
    if name not in ("pool-LOCK", "pool-NONE"):  # pool workers journaling their own runs
        assert completed(statuses) == ended  # acknowledge in batches; see the conformance suite
    sweep.assert_group_gone()


#: Without graceful_exit, plus pool-LOCK with ack_runs=1 (nothing completed is lost).
PLAIN_SETUPS = SETUPS + [
    ("pool-LOCK-ack1", {"multiproc": True, "use_pool": True, "ncores": 2, "wrap_mode": "LOCK",
                        "ack_runs": 1}, 2)]


@pytest.mark.parametrize("setup", PLAIN_SETUPS, ids=[setup[0] for setup in PLAIN_SETUPS])
def test_without_graceful_exit_sigint_stops_at_once_and_keeps_completed_runs(sweeps, setup):
    name, keywords, workers = setup
    sweep = sweeps(keywords, workers, short=0.3, long=30.0)
    sweep.wait_for_starts(2 * workers)
    time.sleep(0.2)
    started, ended = sweep.log()
    active = started - ended
    sweep.interrupt()
    returncode = sweep.finish()

    assert returncode != 0 and "KeyboardInterrupt" in sweep.errors
    assert "graceful exit" not in sweep.errors
    assert sweep.log()[0] == started
    statuses, values = sweep.stored()  # the file loads
    assert not completed(statuses) & active
    if name in ("pool-LOCK", "pool-NONE"):
        # workers journaling their own runs lose what they had not acknowledged when they
        # are killed; those runs are pending, never claimed
        assert completed(statuses) <= ended
    else:
        assert completed(statuses) == ended
    assert values == {"run_%08d" % index: index * 10 for index in sorted(completed(statuses))}
    sweep.assert_group_gone()
