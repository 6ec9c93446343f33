"""One run-table row per run (issue 5): a run that failed and is made again keeps only its
newest row -- in the stored table, the loaded trajectory, ``distenv info``, ``results_frame``
and after ``f_merge``. Real HDF5 files, real runs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tables

from distenv import Environment, Trajectory, load_trajectory, manual_run
from distenv.errors import RunFailedError
from distenv.storage import layout
from distenv.storage.runrows import drop_superseded_in_file, newest_rows

FAILING = {"runs": {1}}


def job(traj):
    if traj.v_idx in FAILING["runs"]:
        raise ValueError("run %d breaks" % traj.v_idx)
    traj.f_add_result("y", traj.x * 2)
    return traj.x * 2


def stored(name, filename):
    """``(index, status)`` rows of the stored run table, in table order, and error indices."""
    with tables.open_file(filename) as h5:
        group = h5.get_node("/" + name)
        rows = group.run_table.read()
        errors = group.run_errors.col("index").tolist() if "run_errors" in group else []
    return list(zip(rows["index"].tolist(), rows["status"].tolist())), errors


def make_env(name, **keywords):
    env = Environment(name, filename="hdf5/%s.hdf5" % name, report_progress=False,
                      log_config=None, **keywords)
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": [1, 2, 3, 4]})
    return env


@pytest.fixture(autouse=True)
def _failing_runs():
    FAILING["runs"] = {1}
    yield
    FAILING["runs"] = {1}


def test_newest_rows_keeps_the_last_row_of_each_run_in_table_order():
    import numpy as np
    assert newest_rows(np.array([0, 1, 2])) is None
    assert newest_rows(np.array([3, 0, 1, 2])) is None
    assert newest_rows(np.array([0, 1, 2, 1, 3, 1])).tolist() == [0, 2, 4, 5]
    # by_index: the same rows in run-index order, also when only the order is off
    assert newest_rows(np.array([0, 1, 2, 1, 3, 1]), by_index=True).tolist() == [0, 5, 2, 4]
    assert newest_rows(np.array([2, 0, 1]), by_index=True).tolist() == [1, 2, 0]
    assert newest_rows(np.array([0, 1, 2]), by_index=True) is None


@pytest.mark.parametrize("execution", [{}, {"multiproc": True, "ncores": 2, "use_pool": True,
                                            "wrap_mode": "LOCK"}], ids=["serial", "pool"])
def test_a_run_made_again_after_failing_keeps_one_row(execution):
    env = make_env("again", **execution)
    with pytest.raises(RunFailedError):
        env.run(job)
    rows, errors = stored("again", "hdf5/again.hdf5")
    assert (1, 2) in rows and errors == [1]
    FAILING["runs"] = set()
    env.run(job)
    rows, errors = stored("again", "hdf5/again.hdf5")
    assert sorted(rows) == [(0, 1), (1, 1), (2, 1), (3, 1)] and errors == []
    traj = load_trajectory("again", filename="hdf5/again.hdf5", load_results=2)
    assert traj.f_get_run_information(1)["status"] == "completed"
    assert traj.f_get_run_information(1)["error"] == ""
    frame = traj.results_frame()
    assert len(frame) == 4 and list(frame["status"]) == ["completed"] * 4
    info = subprocess.run([sys.executable, "-m", "distenv.cli", "info", "hdf5/again.hdf5"],
                          capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    assert "runs: 4 (4 completed, 0 failed, 0 pending)" in info.stdout


def test_a_run_that_fails_twice_keeps_its_newest_failure():
    env = make_env("twice")
    for _ in range(2):
        with pytest.raises(RunFailedError):
            env.run(job)
    rows, errors = stored("twice", "hdf5/twice.hdf5")
    assert [index for index, _ in rows].count(1) == 1 and (1, 2) in rows
    assert errors == [1]
    traj = load_trajectory("twice", filename="hdf5/twice.hdf5")
    assert "run 1 breaks" in traj.f_get_run_information(1)["error"]


def manual_trajectory(name, values):
    traj = Trajectory(name, filename="hdf5/%s.hdf5" % name)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": values})
    traj.f_store()
    return traj


@manual_run(turn_into_run=True)
def manual_job(traj):
    return job(traj)


def test_f_merge_leaves_one_row_per_run_of_the_target():
    # manual runs compact without the Environment: the target file holds two rows of run 1
    target = manual_trajectory("target", [1, 2, 3])
    for index in range(3):
        target.v_idx = index
        try:
            manual_job(target)
        except ValueError:
            pass
    FAILING["runs"] = set()
    target.v_idx = 1
    manual_job(target)
    target.v_idx = -1
    target.f_store()
    rows, errors = stored("target", "hdf5/target.hdf5")
    assert [index for index, _ in rows].count(1) == 1 and errors == []  # compaction dropped it
    with tables.open_file("hdf5/target.hdf5", "a") as h5:  # as a file of an older distenv
        group = h5.get_node("/target")
        table = group._f_get_child(layout.RUN_TABLE)
        rows = table.read()
        older = rows[rows["index"] == 1].copy()
        older["status"] = 2
        table.truncate(0)
        table.append(np.concatenate([older, rows]))
        h5.create_table(group, layout.ERROR_TABLE, layout.ErrorRow).append(
            [(1, b"ValueError: an older failure")])
    rows, _ = stored("target", "hdf5/target.hdf5")
    assert [index for index, _ in rows].count(1) == 2
    other = manual_trajectory("other", [7, 8])
    for index in range(2):
        other.v_idx = index
        manual_job(other)
    other.v_idx = -1
    other.f_store()
    target.f_merge(load_trajectory("other", filename="hdf5/other.hdf5"), backup=False)
    rows, errors = stored("target", "hdf5/target.hdf5")
    assert sorted(rows) == [(index, 1) for index in range(5)] and errors == []
    merged = load_trajectory("target", filename="hdf5/target.hdf5", load_results=2)
    assert merged.f_get_from_runs("y", fast_access=True) == {
        "run_%08d" % index: value for index, value in enumerate([2, 4, 6, 14, 16])}


def test_drop_superseded_in_file_does_nothing_to_a_file_without_failures():
    env = make_env("clean")
    FAILING["runs"] = set()
    env.run(job)
    before = open("hdf5/clean.hdf5", "rb").read()
    assert drop_superseded_in_file("hdf5/clean.hdf5", "clean") == 0
    assert drop_superseded_in_file("hdf5/missing.hdf5", "clean") == 0
    assert open("hdf5/clean.hdf5", "rb").read() == before


def test_default_run_names_are_made_at_c_speed_and_equal_the_formatted_ones():
    from distenv.constants import default_run_name
    indices = [0, 7, 42, 10 ** 7, 12345678, 10 ** 8 - 1]
    names = layout.run_names(indices, default_run_name)
    assert names.dtype == np.dtype("S12")
    assert names.tolist() == [default_run_name(index).encode() for index in indices]
    assert layout.run_names([10 ** 8], default_run_name) == ("run_100000000",)  # wider
    assert layout.run_names([3, 4], lambda index: "sim_%d" % index) == ("sim_3", "sim_4")
    rows = layout.run_rows_array({"index": (1, 2), "name": layout.run_names([1, 2],
                                                                         default_run_name),
                                  "status": (1, 1), "start": (0.0, 0.0), "finish": (1.0, 1.0),
                                  "runtime": np.ones(2), "pid": (5, 5), "host": ("h", "h"),
                                  "env_hash": ("e", "e"), "error": ("", "")})
    assert rows["name"].tolist() == [b"run_00000001", b"run_00000002"]


def test_a_batch_keeps_its_rows_column_wise_with_the_exceptions_by_position():
    from distenv.storage.batch import RunBatch
    batch = RunBatch(origin=(11, "here", "envA"))
    batch.add_run(4, 1, 0.0, 1.0)
    batch.add_run(5, 2, 1.0, 3.0, "Traceback: boom", (22, "there", "envA"))  # elsewhere
    batch.add_run(6, 1, 2.0, 2.5, "", (11, "here", "envA"))  # its own origin
    rows = batch.rows
    assert list(rows["index"]) == [4, 5, 6] and list(rows["status"]) == [1, 2, 1]
    assert list(rows["pid"]) == [11, 22, 11] and list(rows["host"]) == ["here", "there", "here"]
    assert list(rows["error"]) == ["", "Traceback: boom", ""]
    assert rows["runtime"].tolist() == [1.0, 2.0, 0.5]
    table = layout.run_rows_array(rows)
    assert table["name"].tolist() == [b"run_00000004", b"run_00000005", b"run_00000006"]
    assert table["host"].tolist() == [b"here", b"there", b"here"]
    assert layout.error_rows(rows)["index"].tolist() == [5]
    alone = RunBatch()  # no origin given: the first run's
    alone.add_run(0, 1, 0.0, 1.0, "", (7, "h", "e"))
    assert list(alone.rows["pid"]) == [7] and list(alone.rows["env_hash"]) == ["e"]
