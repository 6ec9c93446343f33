"""The shortest path through the core: explore, run by hand, store, load."""

import numpy as np

from distenv import Trajectory, cartesian_product, load_trajectory


def test_explore_store_load_round_trip(tmp_path):
    traj = Trajectory("smoke", filename=str(tmp_path / "smoke.hdf5"))
    traj.f_add_parameter("x", 1.0)
    traj.f_add_parameter("y", 2)
    traj.f_explore(cartesian_product({"x": [1.0, 2.0], "y": [3, 4, 5]}))
    traj.f_store()
    journal = traj.v_storage_service.run_journal(traj)
    for index in range(len(traj)):
        traj._set_run(index)
        traj.f_add_result("z", traj.x * traj.y)
        traj.f_add_result("arr", np.arange(3) * traj.x)
        journal.store_run(traj, index, traj._leave_run(), 1, 0.0, 1.0)
    journal.close()
    traj.f_store()

    loaded = load_trajectory(filename=str(tmp_path / "smoke.hdf5"))
    assert len(loaded) == 6
    z = loaded.f_get_from_runs("z", fast_access=True)
    assert list(z.values()) == [3.0, 6.0, 4.0, 8.0, 5.0, 10.0]
    loaded.f_set_crun(5)
    np.testing.assert_array_equal(loaded.arr, np.arange(3) * 2.0)
    frame = loaded.results_frame()
    assert list(frame["z"]) == [3.0, 6.0, 4.0, 8.0, 5.0, 10.0]
    assert set(frame["status"]) == {"completed"}
