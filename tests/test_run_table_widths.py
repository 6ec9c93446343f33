"""The run table's string columns (name, host, env_hash) are as wide as their longest value and
widen when a longer one arrives, so no value is ever cut short. Real HDF5 files."""

from __future__ import annotations

import numpy as np
import tables

from distenv import Environment, load_trajectory
from distenv.storage import layout


def rows(indices, name, host, env_hash="abc1234"):
    """Run-table rows as the journal writes them (strings as narrow as they can be)."""
    count = len(indices)
    strings = {"name": layout._encoded([name % i for i in indices], 64),
               "host": layout._encoded([host] * count, 64),
               "env_hash": layout._encoded([env_hash] * count, 16)}
    data = np.zeros(count, dtype=layout.run_row_dtype({key: array.dtype.itemsize
                                                       for key, array in strings.items()}))
    data["index"] = indices
    data["status"] = 1
    for key, array in strings.items():
        data[key] = array
    return data


def stored(path, name="traj"):
    """The stored run table of trajectory ``name``: rows and dtype."""
    with tables.open_file(path) as h5:
        table = h5.get_node("/%s/run_table" % name)
        return table.read(), table.dtype


def append(path, data, mode="a"):
    with tables.open_file(path, mode) as h5:
        group = h5.root.traj if "traj" in h5.root else h5.create_group("/", "traj")
        layout.append_run_table(h5, group, data, tables.Filters(1, "zlib"))


def test_a_longer_value_widens_the_column_and_keeps_every_value(tmp_path):
    path = str(tmp_path / "widths.h5")
    append(path, rows([0, 1], "r%d", "a"), mode="w")
    _, dtype = stored(path)
    assert dtype["host"].itemsize == 1 and dtype["name"].itemsize == 2
    long_host = "compute-node-0042.cluster.example.org"
    append(path, rows([2], "a-custom-run-name-%d", long_host))
    data, dtype = stored(path)
    assert dtype["host"].itemsize == len(long_host)
    assert data["host"].tolist() == [b"a", b"a", long_host.encode()]
    assert data["name"].tolist() == [b"r0", b"r1", b"a-custom-run-name-2"]
    assert data["index"].tolist() == [0, 1, 2]
    append(path, rows([3], "r%d", "b"))  # narrower again: the table keeps its width
    data, dtype = stored(path)
    assert dtype["host"].itemsize == len(long_host) and data["host"][-1] == b"b"


def test_a_table_with_the_old_fixed_widths_takes_narrow_rows(tmp_path):
    path = str(tmp_path / "old.h5")
    old = np.zeros(1, dtype=layout.run_row_dtype({"name": 64, "host": 64, "env_hash": 16}))
    old["name"], old["host"], old["index"] = b"run_00000000", b"old-host", 0
    append(path, old, mode="w")
    append(path, rows([1], "run_%08d", "new"))
    data, dtype = stored(path)
    assert dtype["host"].itemsize == 64
    assert data["name"].tolist() == [b"run_00000000", b"run_00000001"]
    assert data["host"].tolist() == [b"old-host", b"new"]


def test_values_are_cut_at_the_documented_limits():
    long = "x" * 100
    assert layout._encoded([long], 64).dtype.itemsize == 64
    assert layout._encoded(["é"], 64).tolist() == ["é".encode("utf-8")]


def identity(traj):
    return traj.x


def test_a_sweep_stores_narrow_rows_that_load_back(tmp_path):
    env = Environment("narrow", filename="hdf5/narrow.hdf5", report_progress=False,
                      log_config=None, multiproc=True, ncores=2, use_pool=True,
                      wrap_mode="NONE")
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": list(range(20))})
    env.run(identity)
    with tables.open_file("hdf5/narrow.hdf5") as h5:
        table = h5.root.narrow.run_table
        assert table.dtype.itemsize < 100  # was 185 bytes with fixed 64-byte strings
        names = dict(zip(table.col("index").tolist(), table.col("name").tolist()))
        assert names == {index: b"run_%08d" % index for index in range(20)}
    loaded = load_trajectory("narrow", filename="hdf5/narrow.hdf5")
    info = loaded.f_get_run_information(3)
    assert info["name"] == "run_00000003" and info["completed"] == 1 and info["host"]


def test_pending_shards_with_wider_strings_load_and_compact(tmp_path):
    """The main file's rows are narrow, a pending shard's are wider: loading concatenates
    them, compaction widens the stored table; nothing is cut either way."""
    from distenv import Trajectory
    traj = Trajectory("mixed", filename=str(tmp_path / "mixed.hdf5"))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": [0, 1, 2]})
    traj.f_store()
    long_host = "a-rather-long-host-name.example.org"
    for index, host in ((0, "h"), (1, long_host)):
        journal = traj.v_storage_service.run_journal(traj)
        traj._set_run(index)
        traj.f_add_result("y", float(index))
        journal.store_run(traj, index, traj._leave_run(), 1, 1.0, 2.0, host=host, pid=7)
        journal.close()
        if index == 0:
            traj.f_store()  # run 0 in the main file, run 1 stays a pending shard
    loaded = load_trajectory("mixed", filename=str(tmp_path / "mixed.hdf5"))
    assert [loaded.f_get_run_information(i)["host"] for i in (0, 1)] == ["h", long_host]
    traj.f_store()
    data, _ = stored(str(tmp_path / "mixed.hdf5"), "mixed")
    assert dict(zip(data["index"].tolist(), data["host"].tolist())) == {
        0: b"h", 1: long_host.encode()}


def test_a_repeated_value_is_encoded_once_and_cut_like_any_other():
    assert layout._encoded(["host-a"] * 3, 64).tolist() == [b"host-a"] * 3
    assert layout._encoded(["x" * 100] * 2, 64).dtype.itemsize == 64
    assert layout._encoded(["é"] * 2, 16).tolist() == ["é".encode("utf-8")] * 2
    assert layout._encoded(["a", "bb", "a"], 64).tolist() == [b"a", b"bb", b"a"]
    assert layout._encoded([""] * 4, 16).tolist() == [b""] * 4
