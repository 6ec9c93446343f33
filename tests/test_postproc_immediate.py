"""``immediate_postproc=True`` with worker processes (issue 5): post-processing is called while
the last runs still execute, runs it adds go to the same executor at once, and every run of
every round is stored exactly once -- for every local wrap mode, with real process pools.

No timing assertions: runs wait for *gate files* that only post-processing or another run
creates, so an order that the feature must guarantee is the only order in which the sweep can
finish (a gate that never opens fails its run after ``GATE_SECONDS``, it does not hang).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import tables

from distenv import Environment, load_trajectory
from distenv.errors import RunFailedError

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("no_leftover_children")]

MODES = ["LOCAL", "QUEUE", "PIPE", "LOCK", "NONE"]
GATE_SECONDS = 60.0
NAME = "immediate"
FILE = "hdf5/immediate.hdf5"


@pytest.fixture
def no_leftover_children():
    yield
    import multiprocessing
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()


def wait_for(gate: str) -> None:
    deadline = time.monotonic() + GATE_SECONDS
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("gate %s never opened" % gate)
        time.sleep(0.01)


def open_gate(gate: str) -> None:
    Path(gate).touch()


def gated_job(traj, gates):
    """Run ``i`` waits for ``gates[i]`` (if any), opens ``gates['opens', i]`` when done."""
    if traj.v_idx in gates:
        wait_for(gates[traj.v_idx])
    traj.f_add_result("y", traj.x * 10)
    if ("opens", traj.v_idx) in gates:
        open_gate(gates["opens", traj.v_idx])
    return traj.x * 10


def make_env(wrap_mode, runs=5, **keywords):
    keywords.setdefault("use_pool", True)
    env = Environment(NAME, filename=FILE, report_progress=False, log_config=None,
                      multiproc=True, ncores=2, wrap_mode=wrap_mode, immediate_postproc=True,
                      **keywords)
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": list(range(runs))})
    return env


def stored_completed():
    """Run indices the file holds as completed (the run table, exactly as stored)."""
    traj = load_trajectory(NAME, filename=FILE)
    return [index for index, info in enumerate(traj.f_get_run_information().values())
            if info["completed"]]


def stored_rows():
    with tables.open_file(FILE) as h5:
        table = h5.get_node("/%s/run_table" % NAME)
        return sorted(zip(table.col("index").tolist(), table.col("status").tolist()))


def stored_values():
    traj = load_trajectory(NAME, filename=FILE, load_results=2)
    return {name: value for name, value in traj.f_get_from_runs("y", fast_access=True).items()}


# -- the call happens while runs are outstanding -------------------------------------------------------
@pytest.mark.parametrize("wrap_mode", MODES)
def test_postprocessing_is_called_while_the_last_runs_execute(wrap_mode):
    env = make_env(wrap_mode)
    calls = []

    def postproc(traj, results):
        calls.append({"results": list(results), "completed": stored_completed()})
        open_gate("release")  # run 4 can only finish after the first call

    env.add_postprocessing(postproc)
    returned = env.run(gated_job, {4: "release"})
    first, final = calls
    assert 4 not in first["completed"] and len(first["completed"]) < 5
    assert 4 not in [index for index, _ in first["results"]]
    assert first["results"]
    if wrap_mode in ("LOCAL", "LOCK", "NONE"):  # QUEUE/PIPE: the writer acknowledges in batches
        assert set(first["completed"]) >= {index for index, _ in first["results"]}
    assert final["results"] == returned and sorted(returned) == [(i, i * 10) for i in range(5)]
    assert returned[:len(first["results"])] == first["results"]  # finish order, one list
    assert final["completed"] == [0, 1, 2, 3, 4]
    assert stored_rows() == [(index, 1) for index in range(5)]


# -- an expansion while runs execute goes to the same executor --------------------------------------
@pytest.mark.parametrize("wrap_mode", MODES)
def test_an_expansion_runs_while_the_previous_round_still_executes(wrap_mode):
    env = make_env(wrap_mode)
    calls = []

    def postproc(traj, results):
        calls.append((len(traj), [index for index, _ in results], stored_completed()))
        if len(traj) == 5:
            return {"x": [5, 6]}
        return None

    env.add_postprocessing(postproc)
    # run 4 finishes only after run 5 did: if the new round waited for the pool to drain,
    # run 4 would wait for ever (and fail after GATE_SECONDS)
    returned = env.run(gated_job, {4: "run5done", ("opens", 5): "run5done"})
    assert sorted(returned) == [(i, i * 10) for i in range(7)]
    assert calls[0][0] == 5 and 4 not in calls[0][1] and 4 not in calls[0][2]
    lengths = [length for length, _, _ in calls]
    assert lengths[1:] == [7] * (len(calls) - 1) and 2 <= len(calls) <= 3
    for (_, earlier, _), (_, later, _) in zip(calls, calls[1:]):
        assert later[:len(earlier)] == earlier and len(later) > len(earlier)
    assert calls[-1][1] == [index for index, _ in returned]
    assert calls[-1][2] == list(range(7))
    assert stored_rows() == [(index, 1) for index in range(7)]
    assert stored_values() == {"run_%08d" % i: i * 10 for i in range(7)}


def test_an_expansion_with_a_process_per_run_and_new_job_arguments():
    env = make_env("QUEUE", use_pool=False)
    calls = []

    def postproc(traj, results):
        calls.append(len(traj))
        if len(traj) == 5:
            gates = {4: "run5done", ("opens", 5): "run5done", 6: "run5done"}
            return {"x": [5, 6]}, (gates,)
        return None

    env.add_postprocessing(postproc)
    returned = env.run(gated_job, {4: "run5done"})
    assert sorted(returned) == [(i, i * 10) for i in range(7)]
    assert calls[0] == 5 and calls[-1] == 7
    assert stored_rows() == [(index, 1) for index in range(7)]


def test_the_pool_ships_what_postprocessing_changed_to_running_workers():
    env = make_env("LOCAL", freeze_input=True)
    env.trajectory.f_add_parameter("offset", 0)

    def job(traj, gates):
        gated_job(traj, gates)
        return traj.x * 10 + traj.offset

    def postproc(traj, results):
        if len(traj) == 5:
            traj.f_get("offset").f_set(1000)  # a parameter the new runs must see
            return {"x": [5, 6]}
        return None

    env.add_postprocessing(postproc)
    returned = dict(env.run(job, {4: "run5done", ("opens", 5): "run5done"}))
    assert [returned[i] for i in range(5)] == [i * 10 for i in range(5)]
    assert returned[5] == 1050 and returned[6] == 1060


# -- failures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("wrap_mode", MODES)
def test_a_failing_early_call_reaches_the_caller_and_keeps_completed_runs(wrap_mode):
    env = make_env(wrap_mode)
    seen, broken = [], [True]

    def postproc(traj, results):
        if broken[0]:
            seen.extend(index for index, _ in results)
            raise ValueError("post-processing broke")

    env.add_postprocessing(postproc)
    with pytest.raises(ValueError, match="post-processing broke"):
        env.run(gated_job, {4: "never"})  # run 4 is still running: it is killed, not awaited
    completed = stored_completed()
    assert 4 not in completed and seen
    if wrap_mode in ("LOCAL", "LOCK", "NONE"):
        assert set(seen) <= set(completed)
    rows = stored_rows()
    assert [index for index, _ in rows] == sorted(set(index for index, _ in rows))
    assert all(status == 1 for _, status in rows)
    # the same Environment makes what is missing once the cause is fixed
    broken[0] = False
    open_gate("never")
    env.run(gated_job, {})
    assert stored_rows() == [(index, 1) for index in range(5)]


def test_a_failed_run_in_an_added_round_stops_the_sweep_and_resume_finishes_it(tmp_path):
    """run_map: the early call adds runs 5 and 6 with their own arguments; run 6 fails while
    run 4 (round 0) still executes, so runs of two rounds are pending; resume makes both with
    the arguments of their round."""
    env = make_env("LOCK", resumable=True, resume_folder="resume")

    def job(traj, gates, add):
        if traj.v_idx == 6 and not Path("fixed").exists():
            raise RuntimeError("run 6 breaks")
        return gated_job(traj, gates) + add

    def postproc(traj, results):
        if len(traj) == 5:
            return {"x": [5, 6]}
        return None

    env.add_postprocessing(postproc)
    gates = {4: "never"}
    with pytest.raises(RunFailedError) as info:
        env.run_map(job, [gates] * 7, [0, 1, 2, 3, 4, 500, 600])
    assert info.value.run_index == 6
    assert 4 not in stored_completed() and 6 not in stored_completed()
    open_gate("never")
    open_gate("fixed")
    resumed = Environment(report_progress=False, log_config=None, multiproc=True, ncores=2,
                          use_pool=True, wrap_mode="QUEUE", immediate_postproc=True)
    results = dict(resumed.resume(trajectory_name=NAME, resume_folder="resume"))
    assert results == {0: 0, 1: 11, 2: 22, 3: 33, 4: 44, 5: 550, 6: 660}
    assert stored_completed() == list(range(7))
    assert [index for index, _ in stored_rows()] == list(range(7))  # one row per run
    assert not os.path.exists("resume/%s" % NAME)
