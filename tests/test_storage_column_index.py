"""The index of per-run column tables on a trajectory group (``column_tables.COLUMN_INDEX_ATTR``).

Finding column tables by walking the tree opened every node of the file (0.03-0.1 s per
store and per load); the index lists them instead. These tests pin down that the index is
only a shortcut: files without it, stale entries and an index too large for an attribute
all give the same tables as a walk.
"""

from __future__ import annotations

import json

import numpy as np
import tables

from distenv import Trajectory, load_trajectory
from distenv.storage import column_tables, layout
from distenv.storage.codecs import Context
from helpers.runs import run_sweep


def _sweep(path, runs=5):
    traj = Trajectory("indexed", filename=str(path))
    traj.f_add_parameter("x", 0)
    traj.f_add_config("setting", "on")
    traj.f_explore({"x": list(range(runs))})
    run_sweep(traj, lambda t: (t.f_add_result("z", t.x * 2),
                               t.f_add_derived_parameter("half", t.x / 2)))
    return traj


def _walked(group):
    return sorted(table._v_pathname for table in column_tables._walk_column_tables(group))


def _listed(group):
    return sorted(table._v_pathname for table in column_tables.iter_column_tables(group))


def test_a_sweep_indexes_its_column_tables(tmp_path):
    path = tmp_path / "a.hdf5"
    _sweep(path)
    with tables.open_file(str(path)) as h5:
        group = h5.root.indexed
        index = json.loads(group._v_attrs[column_tables.COLUMN_INDEX_ATTR])
        assert sorted(index) == ["derived_parameters/runs/crun/half", "results/runs/crun/z"]
        assert _listed(group) == _walked(group) and len(_walked(group)) == 2


def test_a_file_without_the_index_is_walked_and_indexed_on_the_next_column(tmp_path):
    path = tmp_path / "old.hdf5"
    _sweep(path)
    with tables.open_file(str(path), "a") as h5:  # as written before the index existed
        del h5.root.indexed._v_attrs[column_tables.COLUMN_INDEX_ATTR]
    loaded = load_trajectory(filename=str(path), load_results=2, load_derived_parameters=2)
    assert [loaded.f_get_from_runs("z", fast_access=True)[name]
            for name in loaded.f_get_run_names()] == \
        [0, 2, 4, 6, 8]
    with tables.open_file(str(path), "a") as h5:
        group = h5.root.indexed
        assert len(_listed(group)) == 2  # walked
        column_tables.append_column(h5, group, "results.runs.$.extra", "Result", "", {"extra": "f8"},
                             np.array([0], dtype=np.int64), {"extra": np.array([1.5])},
                             Context(tables.Filters()))
        index = json.loads(group._v_attrs[column_tables.COLUMN_INDEX_ATTR])
        assert sorted(index) == ["derived_parameters/runs/crun/half",
                                 "results/runs/crun/extra", "results/runs/crun/z"]
        assert _listed(group) == _walked(group)


def test_a_removed_table_listed_in_the_index_is_skipped(tmp_path):
    path = tmp_path / "stale.hdf5"
    _sweep(path)
    with tables.open_file(str(path), "a") as h5:
        h5.remove_node("/indexed/results/runs/crun/z")
        group = h5.root.indexed
        assert _listed(group) == _walked(group) == ["/indexed/derived_parameters/runs/crun/half"]


def test_an_index_too_large_for_an_attribute_is_disabled_and_the_tree_walked(tmp_path):
    with tables.open_file(str(tmp_path / "wide.hdf5"), "w") as h5:
        group = h5.create_group("/", "wide")
        group._v_attrs[layout.FORMAT_ATTR] = 1
        column_tables.start_column_index(group)
        ctx = Context(tables.Filters())
        keys = ["results.runs.$.%s_%03d" % ("k" * 180, number) for number in range(340)]
        for key in keys:
            column_tables.append_column(h5, group, key, "Result", "", {"v": "i8"},
                                 np.array([0], dtype=np.int64), {"v": np.array([1])}, ctx)
        assert group._v_attrs[column_tables.COLUMN_INDEX_ATTR] == "null"  # walk, never rebuild
        listed = _listed(group)
        assert len(listed) == len(keys) and listed == _walked(group)
