"""The ``manual_run`` decorator (issue 5): single runs chosen by hand via ``v_idx``."""

from __future__ import annotations

import pytest
import tables

from distenv import Environment, Trajectory, load_trajectory, manual_run
from distenv.errors import ConfigurationError


def sweep(name="manual", runs=4) -> Trajectory:
    traj = Trajectory(name, filename="hdf5/%s.hdf5" % name)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(runs))})
    return traj


@manual_run(store_meta_data=True)
def simulate(traj, extra):
    traj.f_add_result("z", traj.x * 10 + extra, comment="the result")
    traj.f_add_result("$set.$.w", traj.x)
    return traj.x + extra


def test_each_call_is_the_current_run_stored_at_once():
    traj = sweep()
    traj.f_store()
    returned = []
    for index in range(3):
        traj.v_idx = index
        returned.append(simulate(traj, 0.5))
    assert returned == [0.5, 1.5, 2.5]
    assert traj.v_idx == 2 and not traj.v_is_run
    assert "run_00000001" not in traj._by_name  # clean_up=True
    loaded = load_trajectory(filename="hdf5/manual.hdf5")  # main file + journal: no f_store
    frame = loaded.results_frame()
    assert list(frame["status"]) == ["completed"] * 3 + ["pending"]
    assert list(frame["z"][:3]) == [0.5, 10.5, 20.5]
    assert loaded.f_get_from_runs("w", fast_access=True, use_indices=True) == {0: 0, 1: 1, 2: 2}
    assert loaded.results.runs.run_00000002.z == 20.5
    info = loaded.f_get_run_information(1)
    assert info["completed"] == 1 and info["runtime"] >= 0 and info["pid"] > 0
    assert traj.f_get_run_information(1)["completed"] == 1  # in memory too
    traj.f_store()  # compaction: each run exactly once in the main file
    with tables.open_file("hdf5/manual.hdf5") as h5:
        assert sorted(h5.get_node("/manual/run_table").col("index").tolist()) == [0, 1, 2]


def test_f_set_crun_a_never_stored_trajectory_and_the_bare_decorator():
    traj = sweep(runs=2)

    @manual_run
    def bare(traj):
        traj.f_add_result("y", traj.x * 2)
        return "done"

    for index in (1, 0):
        traj.f_set_crun(index)
        assert bare(traj) == "done"
    loaded = load_trajectory(filename="hdf5/manual.hdf5")
    assert loaded.f_is_completed()
    assert loaded.f_get_from_runs("y", fast_access=True, use_indices=True) == {0: 0, 1: 2}


def test_clean_up_false_keeps_the_run_data_in_memory():
    traj = sweep()

    @manual_run(clean_up=False)
    def keep(traj):
        traj.f_add_result("y", traj.x + 1)

    traj.v_idx = 3
    keep(traj)
    assert traj.results.runs.run_00000003.y == 4
    assert traj.f_get("results.runs.run_00000003.y").v_stored


def test_turn_into_run_false_only_explicit_run_names_belong_to_the_run():
    traj = sweep()

    @manual_run(turn_into_run=False)
    def analyse(traj):
        assert not traj.v_is_run
        traj.f_add_result("runs.crun.y", traj.x * 3)
        traj.f_add_result("overall_%d" % traj.v_idx, 1)  # not below the run: stays in memory
        return traj.v_crun

    traj.v_idx = 2
    assert analyse(traj) == "run_00000002"
    assert traj.f_contains("results.overall_2")
    loaded = load_trajectory(filename="hdf5/manual.hdf5")
    assert loaded.f_is_completed(2)
    assert loaded.f_get_from_runs("y", fast_access=True, use_indices=True) == {2: 6}
    assert not loaded.f_contains("results.overall_2")


def test_store_meta_data_false_stores_the_data_but_not_the_run_table_row():
    traj = sweep()

    @manual_run(store_meta_data=False)
    def quiet(traj):
        traj.f_add_result("y", 7)

    traj.v_idx = 0
    quiet(traj)
    assert traj.f_is_completed(0)  # in memory
    loaded = load_trajectory(filename="hdf5/manual.hdf5")
    assert loaded.results.runs.run_00000000.y == 7
    assert not loaded.f_is_completed(0)


def test_a_failing_run_is_recorded_failed_with_its_traceback():
    traj = sweep()

    @manual_run()
    def broken(traj):
        traj.f_add_result("partial", 1)
        raise ZeroDivisionError("no luck in run %d" % traj.v_idx)

    traj.v_idx = 1
    with pytest.raises(ZeroDivisionError, match="no luck in run 1"):
        broken(traj)
    assert not traj.v_is_run and traj.v_idx == 1
    loaded = load_trajectory(filename="hdf5/manual.hdf5")
    info = loaded.f_get_run_information(1)
    assert info["status"] == "failed" and "no luck in run 1" in info["error"]
    assert not loaded.f_contains("results.runs.run_00000001.partial")
    traj.v_idx = 1
    simulate(traj, 0)  # made again: completed now, once
    traj.f_store()
    with tables.open_file("hdf5/manual.hdf5") as h5:
        indices = h5.get_node("/manual/run_table").col("index").tolist()
    assert load_trajectory(filename="hdf5/manual.hdf5").f_is_completed(1)
    assert indices.count(1) == 1  # compaction kept only the newest (completed) row


def test_no_current_run_is_an_error():
    traj = sweep()
    with pytest.raises(ConfigurationError, match=r"simulate is a manual run.*v_idx is -1"):
        simulate(traj, 1)


def test_bad_decorator_arguments():
    with pytest.raises(ConfigurationError, match="store_meta_data='yes'"):
        manual_run(store_meta_data="yes")


def test_inside_an_environment_it_is_a_plain_job():
    env = Environment("manual", filename="hdf5/manual.hdf5", report_progress=False,
                      log_config=None)
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": [1, 2]})
    assert env.run(simulate, 1) == [(0, 2), (1, 3)]
    loaded = load_trajectory(filename="hdf5/manual.hdf5")
    assert loaded.f_get_from_runs("z", fast_access=True, use_indices=True) == {0: 11, 1: 21}
    with tables.open_file("hdf5/manual.hdf5") as h5:
        assert sorted(h5.get_node("/manual/run_table").col("index").tolist()) == [0, 1]
