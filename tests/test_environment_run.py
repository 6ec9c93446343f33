"""Serial runs through the Environment, with real HDF5 files."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest
import tables

from distenv import Parameter, Trajectory, cartesian_product, load_trajectory
from distenv.constants import RUN_COMPLETED, RUN_FAILED
from distenv.environment import Environment, RunSpec, execute_run
from distenv.errors import (ConfigurationError, RunFailedError, StorageError,
                            TrajectoryExistsError)


def make_env(name="sweep", **keywords):
    keywords.setdefault("report_progress", False)
    env = Environment(name, filename="hdf5/%s.hdf5" % name, **keywords)
    traj = env.trajectory
    traj.f_add_parameter("x", 1.0, comment="first factor")
    traj.f_add_parameter("y", 1)
    traj.f_explore(cartesian_product({"x": [1.0, 2.0, 3.0], "y": [10, 20]}))
    return env, traj


def multiply(traj, factor=1):
    traj.f_add_result("z", traj.x * traj.y * factor, comment="product")
    return traj.x * traj.y


def test_run_returns_index_value_pairs_in_run_order_and_stores_everything():
    env, traj = make_env()
    results = env.run(multiply, factor=2)
    assert [index for index, _ in results] == list(range(6))
    assert [value for _, value in results] == [x * y for x, y in zip(
        traj.f_get("x").f_get_range(), traj.f_get("y").f_get_range())]
    loaded = load_trajectory(filename="hdf5/sweep.hdf5")
    frame = loaded.results_frame()
    assert list(frame["z"]) == [2 * value for _, value in results]
    assert set(frame["status"]) == {"completed"}


def test_f_run_alias_and_positional_arguments():
    env, _ = make_env()
    results = env.f_run(multiply, 3)
    assert results[1][1] == 20.0
    frame = load_trajectory(filename="hdf5/sweep.hdf5").results_frame()
    assert frame["z"][1] == 60.0


def test_run_table_records_host_pid_times_and_environment_hash():
    env, traj = make_env()
    env.run(multiply)
    info = load_trajectory(filename="hdf5/sweep.hdf5").f_get_run_information(3)
    assert info["completed"] == 1 and info["pid"] == os.getpid()
    assert info["env_hash"] == env.hexsha[:7]
    assert info["finish_timestamp"] >= info["timestamp"] > 0
    assert traj.f_is_completed()


def test_run_map_passes_the_ith_value_to_the_ith_run():
    env, _ = make_env()

    def job(traj, a, b, c=None):
        traj.f_add_result("label", "%s-%s-%s" % (a, b, c))
        return a

    results = env.run_map(job, range(6), "abcdef", c=[5, 4, 3, 2, 1, 0])
    assert results == [(i, i) for i in range(6)]
    labels = load_trajectory(filename="hdf5/sweep.hdf5").f_get_from_runs("label",
                                                                          fast_access=True)
    assert list(labels.values()) == ["0-a-5", "1-b-4", "2-c-3", "3-d-2", "4-e-1", "5-f-0"]


def test_run_map_accepts_generators():
    env, _ = make_env()
    results = env.run_map(lambda traj, v: v * 2, (i for i in range(100)))
    assert [value for _, value in results] == [0, 2, 4, 6, 8, 10]


def test_run_map_with_too_few_values_fails_before_any_run():
    env, traj = make_env()
    with pytest.raises(ConfigurationError, match="keyword argument 'c' has only 2 more value"):
        env.run_map(multiply, c=[1, 2])
    assert not traj._run_table.status.any()
    assert not os.path.exists("hdf5/sweep.hdf5")


def test_run_map_with_a_non_iterable_names_it():
    env, _ = make_env()
    with pytest.raises(ConfigurationError, match="positional argument 1 is 5"):
        env.run_map(multiply, 5)


def test_job_must_be_callable():
    env, _ = make_env()
    with pytest.raises(ConfigurationError, match="the job must be callable, not 'multiply'"):
        env.run("multiply")


# -- a job that raises ----------------------------------------------------------------------------
def failing_at_three(traj):
    if traj.v_idx == 3:
        traj.f_add_result("partial", 1.0)
        raise ValueError("run three is broken")
    traj.f_add_result("z", traj.x)
    return traj.v_idx


def test_failed_run_is_recorded_earlier_runs_stay_stored_and_the_error_reaches_the_caller():
    env, traj = make_env()
    with pytest.raises(RunFailedError, match=r"run 3 \(run_00000003\) of trajectory 'sweep' "
                                             "failed: ValueError: run three is broken") as info:
        env.run(failing_at_three)
    error = info.value
    assert error.run_index == 3
    assert isinstance(error.__cause__, ValueError)
    assert "run three is broken" in error.remote_traceback
    assert "failing_at_three" in error.remote_traceback
    assert isinstance(error, RuntimeError)

    loaded = load_trajectory(filename="hdf5/sweep.hdf5")
    frame = loaded.results_frame()
    assert list(frame["status"]) == ["completed"] * 3 + ["failed", "pending", "pending"]
    assert list(frame["z"][:3]) == [1.0, 2.0, 3.0]
    assert "run three is broken" in loaded.f_get_run_information(3)["error"]
    assert loaded.f_get_from_runs("partial") == {}  # partial data of a failed run is dropped
    assert traj._run_table.status[3] == RUN_FAILED


def test_run_again_after_a_failure_makes_only_the_missing_runs():
    env, _ = make_env()
    with pytest.raises(RunFailedError):
        env.run(failing_at_three)
    results = env.run(multiply)
    assert [index for index, _ in results] == [3, 4, 5]
    frame = load_trajectory(filename="hdf5/sweep.hdf5").results_frame()
    assert set(frame["status"]) == {"completed"}
    assert not frame["z"].isna().any()


def test_keyboard_interrupt_keeps_completed_runs_and_leaves_the_run_pending():
    env, _ = make_env()

    def interrupted(traj):
        if traj.v_idx == 2:
            raise KeyboardInterrupt
        return multiply(traj)

    with pytest.raises(KeyboardInterrupt):
        env.run(interrupted)
    frame = load_trajectory(filename="hdf5/sweep.hdf5").results_frame()
    assert list(frame["status"]) == ["completed", "completed"] + ["pending"] * 4


def test_parameters_are_locked_during_runs_and_unlocked_after():
    env, traj = make_env()
    seen = []

    def job(traj):
        seen.append(traj.f_get("x").v_locked)
        with pytest.raises(Exception, match="locked"):
            traj.f_get("y").f_set(5)

    env.run(job)
    assert all(seen) and not traj.f_get("x").v_locked


# -- keywords with behaviour ----------------------------------------------------------------------
def test_automatic_storing_false_writes_no_file_and_keeps_results_in_memory():
    env, traj = make_env(automatic_storing=False, clean_up_runs=False)
    env.run(multiply)
    assert not os.path.exists("hdf5/sweep.hdf5")
    assert traj.results.runs.run_00000004.z == 40.0
    assert traj.f_is_completed()
    traj.f_store()
    assert load_trajectory(filename="hdf5/sweep.hdf5").results_frame()["z"][4] == 40.0


def test_clean_up_runs_true_removes_run_data_from_memory():
    env, traj = make_env(clean_up_runs=True)
    env.run(multiply)
    assert "run_00000000" not in traj._by_name
    loaded = load_trajectory(filename="hdf5/sweep.hdf5")
    assert loaded.f_get_from_runs("z", fast_access=True)["run_00000000"] == 10.0


def test_clean_up_runs_false_keeps_run_data_in_memory():
    env, traj = make_env(clean_up_runs=False)
    env.run(multiply)
    assert traj.results.runs.run_00000001.z == 20.0


def test_do_single_runs_false_refuses_to_run_and_records_less():
    env, traj = make_env(do_single_runs=False)
    with pytest.raises(ConfigurationError, match="do_single_runs=False"):
        env.run(multiply)
    assert not any(".settings." in name for name in traj.f_get_config())


def test_lazy_debug_under_a_debugger_writes_no_file(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydevd", sys)
    env, traj = make_env(lazy_debug=True)
    assert env.run(multiply)[5] == (5, 60.0)
    assert not os.path.exists("hdf5") and traj.f_is_completed()
    with pytest.raises(StorageError, match="stores nothing"):
        traj.f_load(load_data=2)


def test_lazy_debug_without_a_debugger_stores_normally(monkeypatch):
    monkeypatch.delitem(sys.modules, "pydevd", raising=False)
    env, _ = make_env(lazy_debug=True)
    env.run(multiply)
    assert os.path.exists("hdf5/sweep.hdf5")


def test_use_hdf5_false_writes_no_file():
    env, _ = make_env(use_hdf5=False)
    env.run(multiply)
    assert not os.path.exists("hdf5")


def test_add_time_appends_the_creation_time():
    env = Environment("timed", add_time=True, report_progress=False)
    assert re.fullmatch(r"timed_\d{4}_\d\d_\d\d_\d\dh\d\dm\d\ds", env.trajectory.v_name)


def test_comment_is_stored_with_the_trajectory():
    env, _ = make_env(comment="A useful comment")
    env.run(multiply)
    assert load_trajectory(filename="hdf5/sweep.hdf5").v_comment == "A useful comment"


class CustomParameter(Parameter):
    """A user-defined parameter class, found again on loading through dynamic_imports."""


def test_dynamic_imports_as_class_and_as_dotted_string():
    env = Environment("custom", dynamic_imports=[CustomParameter], report_progress=False,
                      filename="hdf5/custom.hdf5")
    env.trajectory.f_add_parameter(CustomParameter, "c", 3.0)
    env.trajectory.f_explore({"c": [1.0, 2.0]})
    env.run(lambda traj: traj.c)
    loaded = load_trajectory(filename="hdf5/custom.hdf5",
                             dynamic_imports=["%s.CustomParameter" % __name__])
    assert type(loaded.f_get("c")).__name__ == "CustomParameter"
    env2 = Environment("custom2", dynamic_imports="%s.CustomParameter" % __name__)
    assert "CustomParameter" in env2.trajectory._dynamic_imports


def double_x(traj):
    traj.f_add_result("y", traj.x * 2)


@pytest.mark.parametrize("workers", [{}, {"multiproc": True, "ncores": 2, "wrap_mode": "NONE"}],
                         ids=["serial", "pool"])
def test_wildcard_functions_name_the_runs(workers):
    env = Environment("cards", report_progress=False, filename="hdf5/cards.hdf5",
                      wildcard_functions={("$", "crun"): lambda i: "sim_%03d" % i if i >= 0
                                          else "sim_ALL"}, **workers)
    traj = env.trajectory
    traj.f_add_parameter("x", 1)
    traj.f_explore({"x": [1, 2, 3]})
    env.run(double_x)
    loaded = load_trajectory(filename="hdf5/cards.hdf5")
    assert loaded.f_get_run_names() == ["sim_000", "sim_001", "sim_002"]
    with tables.open_file("hdf5/cards.hdf5") as h5:  # the stored run table names them too
        table = h5.get_node("/cards/run_table")
        assert sorted(zip(table.col("index").tolist(), table.col("name").tolist())) == \
            [(0, b"sim_000"), (1, b"sim_001"), (2, b"sim_002")]
    assert loaded.f_get_from_runs("y", fast_access=True) == {"sim_000": 2, "sim_001": 4,
                                                             "sim_002": 6}


def test_context_manager_returns_the_environment():
    with Environment("ctx", report_progress=False, filename="hdf5/ctx.hdf5") as env:
        env.trajectory.f_add_parameter("x", 1)
        env.trajectory.f_explore({"x": [1, 2]})
        assert env.run(lambda traj: traj.x) == [(0, 1), (1, 2)]
    env.disable_logging()
    env.f_disable_logging()


def test_existing_trajectory_object_is_used_and_gets_the_service():
    traj = Trajectory("given")
    traj.f_add_parameter("x", 1)
    traj.f_explore({"x": [1, 2]})
    env = Environment(traj, filename="hdf5/given.hdf5", report_progress=False)
    assert env.traj is traj and env.v_trajectory is traj
    env.run(lambda traj: traj.x)
    assert len(load_trajectory(filename="hdf5/given.hdf5")) == 2


def test_loaded_trajectory_can_be_expanded_and_run_by_a_new_environment():
    env, _ = make_env()
    env.run(multiply)
    traj = load_trajectory(filename="hdf5/sweep.hdf5")
    traj.f_expand({"x": [4.0], "y": [30]})
    env2 = Environment(traj, report_progress=False)
    assert env2.run(multiply) == [(6, 120.0)]
    loaded = load_trajectory(filename="hdf5/sweep.hdf5")
    assert len(loaded) == 7 and loaded.results_frame()["z"][6] == 120.0
    environments = {name.split(".")[2] for name in loaded.f_get_config()
                    if name.startswith("config.environment.")}
    assert environments == {env.name, env2.name}


def test_run_with_everything_completed_does_nothing():
    env, _ = make_env()
    env.run(multiply)
    assert env.run(multiply) == []


# -- files and names ------------------------------------------------------------------------------
def test_two_environments_into_one_file_keep_both_trajectories():
    for name in ("first", "second"):
        env = Environment(name, filename="hdf5/shared.hdf5", overwrite_file=False,
                          report_progress=False)
        env.trajectory.f_add_parameter("x", 1)
        env.trajectory.f_explore({"x": [1, 2, 3]})
        env.run(lambda traj: traj.f_add_result("y", traj.x))
    assert load_trajectory(name="first", filename="hdf5/shared.hdf5").results_frame()["y"].sum() \
        == 6
    assert len(load_trajectory(name="second", filename="hdf5/shared.hdf5")) == 3


def test_existing_trajectory_name_fails_when_the_environment_is_made():
    env, _ = make_env()
    env.run(multiply)
    before = os.path.getmtime("hdf5/sweep.hdf5")
    with pytest.raises(TrajectoryExistsError, match="trajectory 'sweep' already exists in "
                                                    "hdf5/sweep.hdf5.*overwrite_file=True"):
        Environment("sweep", filename="hdf5/sweep.hdf5")
    assert os.path.getmtime("hdf5/sweep.hdf5") == before


def test_existing_name_detected_before_any_run_when_the_file_appears_later():
    env, _ = make_env()
    other, _ = make_env()  # same name and file, nothing stored yet by either
    env.run(multiply)
    calls = []
    with pytest.raises(TrajectoryExistsError, match="'sweep' already exists"):
        other.run(lambda traj: calls.append(traj.v_idx))
    assert calls == []


def test_overwrite_file_replaces_the_file():
    env, _ = make_env()
    env.run(multiply)
    env2, _ = make_env(overwrite_file=True)
    env2.run(multiply, factor=10)
    loaded = load_trajectory(filename="hdf5/sweep.hdf5")
    assert loaded.results_frame()["z"][0] == 100.0


# -- the per-run worker ---------------------------------------------------------------------------
def test_execute_run_reports_one_run_as_a_small_outcome():
    env, traj = make_env()
    outcome = execute_run(traj, RunSpec(4, multiply, (), {"factor": 2}, clean_up=True))
    assert outcome.run_index == 4 and outcome.status == RUN_COMPLETED and outcome.completed
    assert outcome.value == 40.0 and outcome.error == "" and outcome.pid == os.getpid()
    assert [leaf.v_full_name for leaf in outcome.leaves] == ["results.runs.run_00000004.z"]
    assert outcome.finish >= outcome.start
    assert traj.v_idx == -1 and "run_00000004" not in traj._by_name

    failed = execute_run(traj, RunSpec(3, failing_at_three))
    assert failed.failed and failed.status_name == "failed" and failed.leaves == ()
    assert isinstance(failed.exception, ValueError)
    assert failed.error.startswith("Traceback") and "execute_run" not in failed.error


def test_outcome_of_numpy_results_keeps_arrays():
    env, traj = make_env()
    outcome = execute_run(traj, RunSpec(0, lambda traj: np.arange(3) * traj.x))
    np.testing.assert_array_equal(outcome.value, [0.0, 1.0, 2.0])


def test_trajectory_with_its_own_service_keeps_it():
    traj = Trajectory("own", filename="hdf5/own_file.hdf5")
    traj.f_add_parameter("x", 2)
    env = Environment(traj, report_progress=False)
    assert env.trajectory.v_storage_service is traj.v_storage_service
    env.run(lambda traj: traj.f_add_result("y", traj.x))
    assert os.path.exists("hdf5/own_file.hdf5")


def test_unexplored_trajectory_makes_one_run():
    env = Environment("single", report_progress=False, filename="hdf5/single.hdf5")
    env.trajectory.f_add_parameter("x", 7)
    assert env.run(lambda traj: traj.x * 2) == [(0, 14)]
    assert load_trajectory(filename="hdf5/single.hdf5").f_is_completed()


def test_current_idx_follows_the_run():
    env, _ = make_env()
    seen = env.run(lambda traj: env.current_idx)
    assert [value for _, value in seen] == list(range(6))
    assert env.current_idx == -1 and env.v_current_idx == -1


def test_run_spec_and_outcome_pickle_for_other_processes():
    import pickle
    spec = RunSpec(3, multiply, (2,), {"factor": 3}, clean_up=False)
    assert pickle.loads(pickle.dumps(spec)) == spec
    env, traj = make_env()
    outcome = execute_run(traj, RunSpec(3, failing_at_three))
    copy = pickle.loads(pickle.dumps(outcome))
    assert copy == outcome and isinstance(copy.exception, ValueError)


def test_a_stored_run_travels_back_as_a_plain_tuple():
    import pickle
    from distenv.environment.worker import as_outcome
    env, traj = make_env()
    outcome = execute_run(traj, RunSpec(4, multiply, (), {"factor": 2}))
    reply = outcome.stored_reply()
    assert type(reply) is tuple  # what a worker that stored the run sends back
    back = as_outcome(pickle.loads(pickle.dumps(reply)))
    assert back == outcome.stored_copy() and back.stored and back.leaves == ()
    assert (back.value, back.start, back.finish, back.pid) == \
        (40.0, outcome.start, outcome.finish, os.getpid())
    failed = execute_run(traj, RunSpec(3, failing_at_three))
    kept = failed.stored_reply()  # a failed run keeps its error and exception
    assert as_outcome(kept) is kept and kept.failed and kept.stored
    assert kept.error == failed.error and isinstance(kept.exception, ValueError)


def test_automatic_storing_false_with_clean_up_warns_about_dropped_data(caplog):
    with caplog.at_level("WARNING", logger="distenv"):
        make_env(automatic_storing=False)
    assert "dropped after the run" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="distenv"):
        make_env(automatic_storing=False, clean_up_runs=False)
    assert "dropped" not in caplog.text
