"""A trajectory of 1,000,000 runs stores, loads and gives its results_frame on this machine.

Runs go through the run journal directly (the executors' path, without an Environment): two
explored float parameters, one scalar result per run. Timings are printed (``pytest -s``);
nothing is timed as a pass/fail criterion.
"""

from __future__ import annotations

import os
import time

import h5py
import numpy as np
import pytest
import tables

from distenv import Trajectory, cartesian_product, load_trajectory
from distenv.constants import RUN_COMPLETED

RUNS = 1_000_000
SIDE = 1000


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_million_runs(tmp_path):
    path = tmp_path / "million.hdf5"
    timings = {}
    clock = time.perf_counter()

    traj = Trajectory("million", filename=str(path), ack_runs=250_000, ack_seconds=3600)
    traj.f_add_parameter("x", 0.0, comment="fast axis")
    traj.f_add_parameter("y", 0.0, comment="slow axis")
    axis = np.linspace(0.0, 1.0, SIDE).tolist()
    traj.f_explore(cartesian_product({"x": axis, "y": axis}))
    assert len(traj) == RUNS
    traj.f_store()
    timings["explore + first store"] = time.perf_counter() - clock

    clock = time.perf_counter()
    journal = traj.v_storage_service.run_journal(traj)
    for index in range(RUNS):
        traj._set_run(index)
        traj.f_add_result("z", traj.x + 2.0 * traj.y)
        journal.store_run(traj, index, traj._leave_run(), RUN_COMPLETED, 0.0, 0.0)
    journal.close()
    timings["1M runs through the journal"] = time.perf_counter() - clock
    assert len(journal.written) == 4  # acknowledged every 250,000 runs

    clock = time.perf_counter()
    traj.f_store()  # compaction into the main file
    timings["compaction"] = time.perf_counter() - clock
    assert not list(traj.v_storage_service.journal_dir("million").glob("*.h5"))

    clock = time.perf_counter()
    loaded = load_trajectory(filename=str(path))
    timings["load_trajectory"] = time.perf_counter() - clock
    assert len(loaded) == RUNS and loaded.f_is_completed()

    clock = time.perf_counter()
    frame = loaded.results_frame()
    timings["results_frame"] = time.perf_counter() - clock
    assert frame.shape[0] == RUNS
    assert list(frame.columns[:3]) == ["run_name", "x", "y"]
    x = np.tile(np.linspace(0.0, 1.0, SIDE), SIDE)  # the first parameter varies fastest
    y = np.repeat(np.linspace(0.0, 1.0, SIDE), SIDE)
    np.testing.assert_array_equal(frame["x"].to_numpy(), x)
    np.testing.assert_array_equal(frame["y"].to_numpy(), y)
    np.testing.assert_array_equal(frame["z"].to_numpy(), x + 2.0 * y)
    assert (frame["status"] == "completed").all()
    assert frame["run_name"].iloc[-1] == "run_00999999"

    clock = time.perf_counter()
    values = loaded.f_get_from_runs("z", fast_access=True, use_indices=True)
    timings["f_get_from_runs"] = time.perf_counter() - clock
    assert len(values) == RUNS and list(values)[:3] == [0, 1, 2]
    np.testing.assert_array_equal(np.fromiter(values.values(), float, RUNS), x + 2.0 * y)

    # natural naming reaches single runs without building a million nodes
    assert loaded.results.runs.run_00999999.z == x[-1] + 2.0 * y[-1]
    assert loaded.results.runs.r_123456.z == x[123456] + 2.0 * y[123456]
    loaded.f_set_crun(654321)
    assert loaded.z == x[654321] + 2.0 * y[654321]
    assert (loaded.x, loaded.y) == (x[654321], y[654321])

    # plain PyTables / h5py see one row per run, not one group per run
    with tables.open_file(str(path)) as h5:
        assert h5.get_node("/million/run_table").nrows == RUNS
        column = h5.get_node("/million/results/runs/crun/z")
        assert column.nrows == RUNS
        assert column.col("run_index")[-1] == RUNS - 1
        groups = sum(1 for _ in h5.walk_groups("/million"))
        assert groups < 100, groups
    with h5py.File(path, "r") as h5:
        np.testing.assert_array_equal(h5["/million/results/runs/crun/z"]["z"][:5], (x + 2 * y)[:5])

    size = os.path.getsize(path) / 1e6
    print("\n1M runs: %s; file %.1f MB" % (
        ", ".join("%s %.1f s" % item for item in timings.items()), size))
