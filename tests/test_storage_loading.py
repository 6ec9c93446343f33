"""Loading: load_trajectory, loading levels, f_load*, auto-loading, f_get_from_runs,
results_frame, natural naming of loaded runs, several trajectories in one file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tables

from distenv import HDF5StorageService, Result, Trajectory, cartesian_product, load_trajectory
from distenv.errors import NodeNotFoundError, NotUniqueNodeError, TrajectoryNotFoundError
from helpers.custom_leaves import CelsiusParameter, TaggedResult
from helpers.runs import run_sweep


def _job(traj):
    traj.f_add_result("z", traj.x * traj.y)
    traj.f_add_result("pair", a=traj.v_idx, b=np.arange(2) + traj.v_idx, comment="two items")
    traj.f_add_result("label", "run %d" % traj.v_idx)
    traj.f_add_result("info", {"idx": traj.v_idx})  # irregular: held per run
    traj.f_add_derived_parameter("dz", traj.x + 0.5)
    traj.f_add_result("sub.value", traj.v_idx * 1.5)


@pytest.fixture
def stored(tmp_path):
    """A finished sweep of 6 runs plus static items, in tmp_path/s.hdf5."""
    path = tmp_path / "s.hdf5"
    traj = Trajectory("sweep", filename=str(path), comment="the sweep")
    traj.f_add_parameter("x", 1.0, comment="x axis")
    traj.f_add_parameter("y", 2)
    traj.f_add_parameter("group.unexplored", "u")
    traj.f_add_config("setting", 3)
    traj.f_add_derived_parameter("static_derived", 4.5)
    traj.f_add_result("static", 7, comment="static result")
    traj.f_add_result("stats.multi", mean=1.5, data=np.arange(5))
    traj.f_explore(cartesian_product({"x": [1.0, 2.0], "y": [3, 4, 5]}))
    run_sweep(traj, _job)
    return path


def _z(index):
    x = [1.0, 2.0][index % 2]
    y = [3, 4, 5][index // 2]
    return x * y


# -- load_trajectory ---------------------------------------------------------------------------
def test_load_everything(stored):
    loaded = load_trajectory(filename=str(stored))
    assert loaded.v_name == "sweep" and loaded.v_comment == "the sweep"
    assert len(loaded) == 6
    assert loaded.f_get_run_names() == ["run_%08d" % i for i in range(6)]
    assert list(loaded.f_get_explored_parameters()) == ["parameters.x", "parameters.y"]
    assert loaded.f_get("x").v_comment == "x axis"
    assert loaded.unexplored == "u" and loaded.setting == 3 and loaded.static_derived == 4.5
    assert loaded.static == 7 and loaded.f_get("static").v_comment == "static result"
    np.testing.assert_array_equal(loaded.stats.multi.data, np.arange(5))
    assert loaded.f_is_completed()
    info = loaded.f_get_run_information(4)
    assert info["completed"] == 1 and info["status"] == "completed"
    assert info["runtime"] >= 0 and info["host"] and info["pid"] > 0


def test_f_get_from_runs_in_run_order(stored):
    loaded = load_trajectory(filename=str(stored))
    z = loaded.f_get_from_runs("z", fast_access=True)
    assert list(z) == loaded.f_get_run_names()
    assert list(z.values()) == [_z(i) for i in range(6)]
    nodes = loaded.f_get_from_runs("z")
    assert all(isinstance(node, Result) for node in nodes.values())
    assert [node.f_get() for node in nodes.values()] == [_z(i) for i in range(6)]
    pairs = loaded.f_get_from_runs("pair", fast_access=True)  # two items: nodes
    assert [node.a for node in pairs.values()] == list(range(6))
    assert pairs["run_00000003"].v_comment == "two items"
    info = loaded.f_get_from_runs("info", fast_access=True, use_indices=True)
    assert info == {i: {"idx": i} for i in range(6)}
    assert list(loaded.f_get_from_runs("dz", fast_access=True).values()) == \
        [[1.0, 2.0][i % 2] + 0.5 for i in range(6)]
    assert loaded.f_get_from_runs("sub.value", fast_access=True)["run_00000002"] == 3.0
    assert loaded.f_get_from_runs("value", fast_access=True)["run_00000003"] == 4.5
    assert loaded.f_get_from_runs("nothing_of_that_name") == {}


def test_natural_naming_of_loaded_runs(stored):
    loaded = load_trajectory(filename=str(stored))
    assert loaded.results.runs.run_00000004.z == _z(4)
    assert loaded.results.runs.r_4.z == _z(4)
    assert loaded["results.runs.run_00000005.label"] == "run 5"
    assert loaded.results.runs.r_2.info == {"idx": 2}
    assert loaded.res.runs.r_1.pair.b.tolist() == [1, 2]
    with pytest.raises(NotUniqueNodeError) as info:
        loaded.z
    assert "run_00000000" in str(info.value) and "f_set_crun" in str(info.value)
    loaded.f_set_crun(3)
    assert loaded.z == _z(3) and loaded.results.runs.crun.z == _z(3)
    assert loaded.info == {"idx": 3} and loaded.pair.a == 3 and loaded.dz == 2.5
    assert (loaded.x, loaded.y) == (2.0, 4)
    loaded.f_set_crun(None)
    with pytest.raises(NodeNotFoundError):
        loaded.results.runs.run_00000099
    run_names = set(loaded.results.runs.f_get_children())
    assert run_names == {"run_%08d" % i for i in range(6)}
    assert set(loaded.results.runs.run_00000001.f_get_children()) == {
        "z", "pair", "label", "info", "sub"}
    assert loaded.results.runs.r_5.sub.value == 7.5
    leaves = {leaf.v_full_name for leaf in loaded.results.runs.r_1.f_iter_leaves()}
    assert "results.runs.run_00000001.z" in leaves


def test_results_frame(stored):
    frame = load_trajectory(filename=str(stored)).results_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 6
    assert frame.index.name == "run_index" and frame.index.tolist() == list(range(6))
    assert frame["x"].tolist() == [1.0, 2.0] * 3
    assert frame["y"].tolist() == [3, 3, 4, 4, 5, 5]
    assert frame["z"].tolist() == [_z(i) for i in range(6)]
    assert frame["label"].tolist() == ["run %d" % i for i in range(6)]
    assert frame["dz"].tolist() == [[1.5, 2.5][i % 2] for i in range(6)]
    assert frame["sub.value"].tolist() == [i * 1.5 for i in range(6)]
    assert frame["status"].tolist() == ["completed"] * 6
    assert frame["run_name"].tolist() == ["run_%08d" % i for i in range(6)]
    assert (frame["runtime"] >= 0).all()
    assert "pair.a" in frame.columns and frame["pair.a"].tolist() == list(range(6))
    assert "info" not in frame.columns  # not a scalar
    assert "pair.b" not in frame.columns


def test_results_frame_with_failed_and_pending_runs(tmp_path):
    traj = Trajectory("partial", filename=str(tmp_path / "p.hdf5"))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(5))})
    run_sweep(traj, lambda t: t.f_add_result("z", t.x * 10), indices=[0, 1, 3],
              fail=lambda index: index == 1)
    loaded = load_trajectory(filename=str(tmp_path / "p.hdf5"))
    frame = loaded.results_frame()
    assert frame["status"].tolist() == ["completed", "failed", "pending", "completed", "pending"]
    z = frame["z"].tolist()
    assert z[0] == 0 and z[3] == 30 and all(np.isnan(z[i]) for i in (1, 2, 4))
    assert loaded.f_get_run_information(1)["error"] == "RuntimeError: run 1 failed"
    assert not loaded.f_is_completed() and loaded.f_is_completed(3)


def test_results_frame_result_named_like_a_parameter(tmp_path):
    traj = Trajectory("clash", filename=str(tmp_path / "c.hdf5"))
    traj.f_add_parameter("x", 1.0)
    traj.f_explore({"x": [1.0, 2.0, 3.0]})
    run_sweep(traj, lambda t: (t.f_add_result("x", t.x * 100),
                               t.f_add_derived_parameter("x", t.x * 10)))
    frame = load_trajectory(filename=str(tmp_path / "c.hdf5")).results_frame()
    assert frame["x"].tolist() == [1.0, 2.0, 3.0]  # the explored parameter keeps its name
    others = sorted(frame.columns.drop(["run_name", "x", "status", "runtime"]).tolist())
    assert len(others) == 2
    values = sorted(frame[name].tolist() for name in others)
    assert values == [[10.0, 20.0, 30.0], [100.0, 200.0, 300.0]]


def test_results_frame_of_an_unexplored_trajectory(tmp_path):
    traj = Trajectory("single", filename=str(tmp_path / "s.hdf5"))
    traj.f_add_parameter("x", 1.0)
    run_sweep(traj, lambda t: t.f_add_result("z", 5.0))
    frame = load_trajectory(filename=str(tmp_path / "s.hdf5")).results_frame()
    assert len(frame) == 1 and frame["z"].tolist() == [5.0]
    assert frame["status"].tolist() == ["completed"]


def test_custom_run_names_and_buckets_round_trip(tmp_path):
    def run_name(index):
        return "sim_%03d" % index if index >= 0 else "sim_ALL"

    def pair(index):
        return "pair_%d" % (index // 2) if index >= 0 else "pair_ALL"

    path = tmp_path / "custom.hdf5"
    traj = Trajectory("custom", filename=str(path),
                      wildcard_functions={("$", "crun"): run_name, ("$pair", "pair"): pair})
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(5))})

    def job(t):
        t.f_add_result("z", t.x * 2)
        t.f_add_result("$pair.$.w", t.x * 3)
        t.f_add_result("$set.$.v", t.x * 4)

    run_sweep(traj, job)
    loaded = load_trajectory(filename=str(path))
    assert loaded.f_get_run_names() == ["sim_%03d" % i for i in range(5)]
    assert list(loaded.f_get_from_runs("z", fast_access=True)) == loaded.f_get_run_names()
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == [0, 2, 4, 6, 8]
    assert list(loaded.f_get_from_runs("w", fast_access=True).values()) == [0, 3, 6, 9, 12]
    assert list(loaded.f_get_from_runs("v", fast_access=True).values()) == [0, 4, 8, 12, 16]
    assert loaded.results.runs.sim_003.z == 6
    assert loaded.results.pair_1.sim_003.w == 9
    assert loaded.results.run_set_00000.sim_004.v == 16
    loaded.f_set_crun("sim_002")
    assert loaded.v_idx == 2 and loaded.z == 4 and loaded.w == 6 and loaded.v == 8
    assert loaded.results.runs.crun.z == 4
    frame = loaded.results_frame()
    assert frame["run_name"].tolist() == ["sim_%03d" % i for i in range(5)]
    assert frame["w"].tolist() == [0, 3, 6, 9, 12]
    assert frame["v"].tolist() == [0, 4, 8, 12, 16]


def test_custom_leaf_classes_round_trip(tmp_path):
    path = tmp_path / "classes.hdf5"
    traj = Trajectory("classes", filename=str(path), dynamic_imports=[CelsiusParameter,
                                                                      TaggedResult])
    traj.f_add_parameter(CelsiusParameter, "temp", 20.0)
    traj.f_explore({"temp": [10.0, 30.0]})
    traj.f_add_result(TaggedResult, "static", 1)
    run_sweep(traj, lambda t: t.f_add_result(TaggedResult, "per_run", t.temp))
    for imports in ([CelsiusParameter, TaggedResult],
                    ["helpers.custom_leaves.CelsiusParameter",
                     "helpers.custom_leaves.TaggedResult"]):
        loaded = load_trajectory(filename=str(path), dynamic_imports=imports)
        assert type(loaded.f_get("temp")) is CelsiusParameter
        assert loaded.f_get("temp").f_get_range() == (10.0, 30.0)
        assert loaded.f_get("static").tag() == "tagged:static"
        per_run = loaded.f_get_from_runs("per_run")
        assert all(type(node) is TaggedResult for node in per_run.values())
        assert [node.f_get() for node in per_run.values()] == [10.0, 30.0]
    from distenv.errors import UnsupportedTypeError
    with pytest.raises(UnsupportedTypeError, match="CelsiusParameter.*dynamic_imports"):
        load_trajectory(filename=str(path))


# -- loading levels ----------------------------------------------------------------------------
def _is_loaded(traj, full):
    node = traj._nodes.get(full)
    return None if node is None else not node.f_is_empty()


def test_load_all_nothing(stored):
    loaded = load_trajectory(filename=str(stored), load_all=0)
    assert loaded.v_name == "sweep" and len(loaded) == 6
    for full in ("parameters.x", "config.setting", "results.static",
                 "derived_parameters.static_derived"):
        assert _is_loaded(loaded, full) is None
    assert loaded.f_get_from_runs("z") == {}


def test_load_all_skeleton(stored):
    loaded = load_trajectory(filename=str(stored), load_all=1)
    # results exist but are empty; parameters carry their values (pypet's ranges need them)
    assert _is_loaded(loaded, "results.static") is False
    assert _is_loaded(loaded, "results.stats.multi") is False
    assert _is_loaded(loaded, "parameters.x") is True
    assert loaded.f_get("static").v_comment == "static result"
    # per-run data of a skeleton is read on first use
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == \
        [_z(i) for i in range(6)]


def test_load_all_data(stored):
    loaded = load_trajectory(filename=str(stored), load_all=2)
    for full in ("parameters.x", "config.setting", "results.static", "results.stats.multi",
                 "derived_parameters.static_derived"):
        assert _is_loaded(loaded, full) is True


@pytest.mark.parametrize("parameters, derived, results", [(2, 0, 0), (2, 2, 0), (2, 0, 1),
                                                           (0, 2, 2), (1, 1, 2)])
def test_separate_levels(stored, parameters, derived, results):
    loaded = load_trajectory(filename=str(stored), load_all=None, load_parameters=parameters,
                             load_derived_parameters=derived, load_results=results)
    expected = {0: None, 1: False, 2: True}
    assert _is_loaded(loaded, "results.static") is expected[results]
    assert _is_loaded(loaded, "parameters.group.unexplored") is \
        (None if parameters == 0 else True)
    assert _is_loaded(loaded, "derived_parameters.static_derived") is \
        (None if derived == 0 else True)
    assert bool(loaded.f_get_from_runs("z")) is (results > 0)
    assert bool(loaded.f_get_from_runs("dz")) is (derived > 0)


@pytest.mark.parametrize("bad", [4, -1, "2", True, None])
def test_bad_level(stored, bad):
    with pytest.raises(ValueError, match="load_results"):
        load_trajectory(filename=str(stored), load_all=None, load_results=bad)


def test_f_load_into_a_new_trajectory(stored):
    traj = Trajectory("sweep", filename=str(stored))
    assert traj.f_load(load_results=2) is traj
    assert len(traj) == 6 and traj.static == 7
    assert list(traj.f_get_from_runs("z", fast_access=True).values()) == \
        [_z(i) for i in range(6)]
    other = Trajectory("whatever")
    other.f_load(filename=str(stored), index=-1, load_data=2)
    assert other.v_name == "sweep" and other.static == 7


def test_f_load_skeleton_then_items(stored):
    traj = Trajectory("sweep", filename=str(stored))
    traj.f_load(load_parameters=2, load_results=1)
    leaf = traj.f_get("static")
    assert leaf.f_is_empty()
    traj.f_load_item("results.static")
    assert not leaf.f_is_empty() and leaf.f_get() == 7  # the same object was filled
    multi = traj.f_get("multi")
    traj.f_load_item(multi)
    assert multi.mean == 1.5
    traj.f_load_items(["derived_parameters.static_derived"])
    assert traj.static_derived == 4.5


def test_f_load_child(stored):
    loaded = load_trajectory(filename=str(stored), load_all=0)
    static = loaded.results.f_load_child("static")
    assert static.f_get() == 7
    group = loaded.f_load_child("results.stats", recursive=True)
    assert group.v_full_name == "results.stats"
    assert group.multi.mean == 1.5
    loaded.parameters.f_load_child("x")
    assert loaded.f_get("x").f_get_default() == 1.0
    skeleton = loaded.f_load_child("config.setting", load_data=1)
    assert skeleton.v_full_name == "config.setting"
    with pytest.raises(NodeNotFoundError):
        loaded.f_load_child("results.not_there")


def test_f_load_child_of_a_run(stored):
    loaded = load_trajectory(filename=str(stored), load_all=0)
    node = loaded.f_load_child("results.runs.run_00000002.z")
    assert node.f_get() == _z(2)


def test_group_f_load(stored):
    loaded = load_trajectory(filename=str(stored), load_all=0)
    assert loaded.results.f_load() is loaded.results
    assert loaded.static == 7


def test_auto_load_fills_empty_leaves(stored):
    loaded = load_trajectory(filename=str(stored), load_all=1)
    empty = loaded.f_get("static")
    assert empty.f_is_empty()
    loaded.v_auto_load = True
    assert loaded.static == 7
    assert loaded.results.static == 7
    assert loaded.stats.multi.mean == 1.5
    assert not empty.f_is_empty()  # filled in place
    other = load_trajectory(filename=str(stored), load_all=1)
    assert other.f_get("static", auto_load=True).f_get() == 7


def test_auto_load_loads_nodes_not_in_memory(stored):
    loaded = load_trajectory(filename=str(stored), load_all=0)
    loaded.v_auto_load = True
    assert loaded.results.static == 7
    assert loaded.results.stats.multi.mean == 1.5
    assert loaded.parameters.group.unexplored == "u"
    with pytest.raises(NodeNotFoundError):
        loaded.results.not_stored_anywhere
    assert loaded.results.runs.r_1.z == _z(1)  # per-run data too
    assert loaded.derived_parameters.runs.run_00000004.dz == 1.5
    loaded.f_set_crun(2)
    assert loaded.results.runs.crun.label == "run 2"


def test_without_auto_load_empty_leaves_stay_empty(stored):
    loaded = load_trajectory(filename=str(stored), load_all=1)
    assert isinstance(loaded.static, Result) and loaded.f_get("static").f_is_empty()


def test_as_new_drops_runs(stored):
    fresh = load_trajectory(filename=str(stored), as_new=True)
    assert len(fresh) == 6 and fresh.f_get("x").f_get_range() == (1.0, 2.0) * 3
    assert fresh.f_get_from_runs("z") == {}
    assert not fresh.f_is_completed()
    assert not fresh.v_stored


# -- several trajectories in one file ------------------------------------------------------------
def test_several_trajectories_in_one_file(tmp_path):
    path = tmp_path / "multi.hdf5"
    for number, name in enumerate(["first", "second", "third"]):
        traj = Trajectory(name, filename=str(path))
        traj.f_add_parameter("x", 0)
        traj.f_explore({"x": list(range(number + 2))})
        run_sweep(traj, lambda t, n=number: t.f_add_result("z", t.x + 100 * n))
    service = HDF5StorageService(filename=str(path))
    assert service.trajectory_names() == ["first", "second", "third"]
    for number, name in enumerate(["first", "second", "third"]):
        loaded = load_trajectory(name=name, filename=str(path))
        assert loaded.v_name == name and len(loaded) == number + 2
        assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == \
            [x + 100 * number for x in range(number + 2)]
        assert load_trajectory(index=number, filename=str(path)).v_name == name
    assert load_trajectory(index=-1, filename=str(path)).v_name == "third"
    with pytest.raises(TrajectoryNotFoundError) as info:
        load_trajectory(filename=str(path))  # which one?
    assert all(name in str(info.value) for name in ("first", "second", "third"))
    with tables.open_file(str(path)) as h5:  # each its own group, each its own run table
        for number, name in enumerate(["first", "second", "third"]):
            assert len(h5.get_node("/%s/run_table" % name)) == number + 2


def test_adding_runs_to_one_trajectory_leaves_the_other_intact(tmp_path):
    path = tmp_path / "multi.hdf5"
    first = Trajectory("first", filename=str(path))
    first.f_add_parameter("x", 0)
    first.f_explore({"x": [1, 2, 3]})
    run_sweep(first, lambda t: t.f_add_result("z", t.x), indices=[0])
    second = Trajectory("second", filename=str(path))
    second.f_add_parameter("x", 0)
    second.f_explore({"x": [7, 8]})
    run_sweep(second, lambda t: t.f_add_result("z", t.x * 2))
    run_sweep(first, lambda t: t.f_add_result("z", t.x), indices=[1, 2])
    assert list(load_trajectory(name="first", filename=str(path)).f_get_from_runs(
        "z", fast_access=True).values()) == [1, 2, 3]
    assert list(load_trajectory(name="second", filename=str(path)).f_get_from_runs(
        "z", fast_access=True).values()) == [14, 16]


# -- storing more after loading ----------------------------------------------------------------
def test_continue_a_loaded_trajectory(tmp_path):
    path = tmp_path / "cont.hdf5"
    traj = Trajectory("cont", filename=str(path))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(6))})
    run_sweep(traj, lambda t: t.f_add_result("z", t.x ** 2), indices=range(3))
    loaded = load_trajectory(filename=str(path))
    done = [index for index in range(len(loaded)) if loaded.f_is_completed(index)]
    assert done == [0, 1, 2]
    run_sweep(loaded, lambda t: t.f_add_result("z", t.x ** 2), indices=range(3, 6))
    final = load_trajectory(filename=str(path))
    assert final.f_is_completed()
    assert list(final.f_get_from_runs("z", fast_access=True).values()) == \
        [x ** 2 for x in range(6)]
    with tables.open_file(str(path)) as h5:
        assert sorted(h5.get_node("/cont/run_table").col("index").tolist()) == list(range(6))


def test_f_expand_after_storing(tmp_path):
    path = tmp_path / "expand.hdf5"
    traj = Trajectory("expand", filename=str(path))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": [0, 1]})
    run_sweep(traj, lambda t: t.f_add_result("z", t.x * 3))
    loaded = load_trajectory(filename=str(path))
    from distenv.errors import ExplorationError
    with pytest.raises(ExplorationError, match="f_expand"):
        loaded.f_explore({"x": [5, 6]})  # runs exist: exploring anew would orphan them
    with pytest.raises(ExplorationError, match="force"):
        loaded.f_shrink()
    assert len(loaded) == 2 and loaded.f_get("x").f_get_range() == (0, 1)
    loaded.f_expand({"x": [2, 3]})
    run_sweep(loaded, lambda t: t.f_add_result("z", t.x * 3), indices=[2, 3])
    final = load_trajectory(filename=str(path))
    assert len(final) == 4 and final.f_get("x").f_get_range() == (0, 1, 2, 3)
    assert list(final.f_get_from_runs("z", fast_access=True).values()) == [0, 3, 6, 9]


def test_store_items_added_after_the_first_store(tmp_path):
    path = tmp_path / "later.hdf5"
    traj = Trajectory("later", filename=str(path))
    traj.f_add_parameter("x", 1)
    traj.f_store()
    traj.f_add_result("analysis.mean", 2.5)
    traj.f_add_result("analysis.other", 3)
    traj.f_store_item("analysis.mean")
    partial = load_trajectory(filename=str(path))
    assert partial.f_contains("results.analysis.mean")
    assert not partial.f_contains("results.analysis.other")
    traj.f_store()
    final = load_trajectory(filename=str(path))
    assert final.mean == 2.5 and final.other == 3
    traj.f_add_result("analysis.third", 4)
    traj.results.analysis.f_store_child("third")
    assert load_trajectory(filename=str(path)).third == 4


def test_manual_per_run_results_are_stored(tmp_path):
    """Results put below a run by name (no executor) reach the file too."""
    path = tmp_path / "manual.hdf5"
    traj = Trajectory("manual", filename=str(path))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": [1, 2]})
    traj.f_add_result("runs.run_00000001.z", 5)
    traj.f_add_result("runs.run_00000000.z", 4)
    traj.f_store()
    loaded = load_trajectory(filename=str(path))
    assert loaded.f_get_from_runs("z", fast_access=True) == {"run_00000000": 4,
                                                             "run_00000001": 5}


def test_groups_named_like_the_file_bookkeeping(tmp_path):
    """'overview', 'run_table', ... are reserved only directly below the trajectory group."""
    path = tmp_path / "names.hdf5"
    traj = Trajectory("names", filename=str(path))
    traj.f_add_parameter("overview.x", 1)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": [0, 1]})
    traj.f_add_result("overview.mean", 2.5)
    traj.f_add_result("journal_log.entry", "e")
    traj.f_add_config("run_table.rows", 3)
    traj.f_add_derived_parameter("irregular_index.k", 4)
    run_sweep(traj, lambda t: (t.f_add_result("overview.per_run", t.x * 2),
                               t.f_add_result("run_errors", {"none": t.x})))
    loaded = load_trajectory(filename=str(path))
    assert loaded["parameters.overview.x"] == 1
    assert loaded["results.overview.mean"] == 2.5
    assert loaded["results.journal_log.entry"] == "e"
    assert loaded["config.run_table.rows"] == 3
    assert loaded["derived_parameters.irregular_index.k"] == 4
    assert loaded.f_get_from_runs("per_run", fast_access=True, use_indices=True) == {0: 0, 1: 2}
    assert loaded.f_get_from_runs("run_errors", fast_access=True, use_indices=True) == {
        0: {"none": 0}, 1: {"none": 1}}
