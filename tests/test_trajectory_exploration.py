"""Exploration: f_explore, cartesian_product, f_expand, runs and the current run."""

from __future__ import annotations

import numpy as np
import pytest

from distenv import Trajectory, cartesian_product
from distenv.errors import ExplorationError, NodeNotFoundError


@pytest.fixture
def traj():
    traj = Trajectory("explore")
    traj.f_add_parameter("x", 1.0)
    traj.f_add_parameter("y", 2)
    traj.f_add_parameter("name", "a")
    traj.f_add_parameter("group.z", 0.5)
    traj.f_add_result("not_a_parameter", 1)
    return traj


# -- cartesian_product ----------------------------------------------------------------------
def test_cartesian_product_first_parameter_varies_fastest():
    product = cartesian_product({"x": [1, 2], "y": ["a", "b", "c"]})
    assert product == {"x": [1, 2, 1, 2, 1, 2], "y": ["a", "a", "b", "b", "c", "c"]}


def test_cartesian_product_order_follows_combined_parameters():
    product = cartesian_product({"x": [1, 2], "y": ["a", "b"]}, combined_parameters=("y", "x"))
    assert product == {"x": [1, 1, 2, 2], "y": ["a", "b", "a", "b"]}


def test_cartesian_product_combined_parameters_vary_together():
    product = cartesian_product({"x": [1, 2, 3], "z": [10, 20, 30], "y": ["a", "b"]},
                                combined_parameters=(("x", "z"), "y"))
    assert product["x"] == [1, 2, 3, 1, 2, 3]
    assert product["z"] == [10, 20, 30, 10, 20, 30]
    assert product["y"] == ["a", "a", "a", "b", "b", "b"]
    assert all(z == 10 * x for x, z in zip(product["x"], product["z"]))


def test_cartesian_product_accepts_any_iterable():
    product = cartesian_product({"x": range(2), "y": np.array([0.5, 1.5])})
    assert product["x"] == [0, 1, 0, 1]
    assert product["y"] == [0.5, 0.5, 1.5, 1.5]


@pytest.mark.parametrize("combined, words", [
    ((("x", "z"), "y"), ["equal lengths", "'x': 2", "'z': 3"]),
    (("x", "nope", "y", "z"), ["nope"]),
    (("x", "y"), ["leaves out", "z"]),
    (("x", "x", "y", "z"), ["twice"]),
])
def test_cartesian_product_bad_combined_parameters(combined, words):
    with pytest.raises(ExplorationError) as info:
        cartesian_product({"x": [1, 2], "y": [1], "z": [1, 2, 3]}, combined_parameters=combined)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("bad", [{"x": 3}, {"x": "abc"}, [("x", [1, 2])]])
def test_cartesian_product_bad_input(bad):
    with pytest.raises(ExplorationError):
        cartesian_product(bad)


# -- f_explore ---------------------------------------------------------------------------------
def test_explore_sets_the_number_of_runs(traj):
    assert len(traj) == 1
    traj.f_explore(cartesian_product({"x": [1.0, 2.0], "y": [3, 4, 5]}))
    assert len(traj) == 6
    assert traj.f_get("x").f_get_range() == (1.0, 2.0, 1.0, 2.0, 1.0, 2.0)
    assert traj.f_get("y").f_get_range() == (3, 3, 4, 4, 5, 5)
    assert traj.f_get("x").v_explored and not traj.f_get("name").v_explored
    assert set(traj.f_get_explored_parameters()) == {"parameters.x", "parameters.y"}
    assert traj.f_get_run_names() == ["run_%08d" % index for index in range(6)]


def test_explore_by_any_name(traj):
    traj.f_explore({"parameters.group.z": [0.1, 0.2], "x": [1.0, 3.0]})
    assert traj.f_get("z").f_get_range() == (0.1, 0.2)
    other = Trajectory("other")
    other.f_add_parameter("group.z", 0.5)
    other.f_explore({"group.z": [1.0, 2.0, 3.0]})
    assert len(other) == 3


def test_explore_unequal_lengths_names_each_length(traj):
    with pytest.raises(ExplorationError) as info:
        traj.f_explore({"x": [1.0, 2.0], "y": [1, 2, 3]})
    message = str(info.value)
    assert "equal lengths" in message
    assert "parameters.x': 2" in message and "parameters.y': 3" in message
    assert "cartesian_product" in message
    assert len(traj) == 1 and not traj.f_get("x").v_explored


def test_explore_unknown_names_are_listed(traj):
    with pytest.raises(ExplorationError) as info:
        traj.f_explore({"x": [1.0], "nope": [1], "ypsilon": [2]})
    message = str(info.value)
    assert "nope" in message and "ypsilon" in message and "unknown" in message
    assert not traj.f_get("x").v_explored


def test_explore_wrong_type_names_value_and_types(traj):
    with pytest.raises(ExplorationError) as info:
        traj.f_explore({"y": [1, 2, "three"]})
    message = str(info.value)
    assert "'three'" in message and "str" in message and "int" in message
    assert "parameters.y" in message
    assert len(traj) == 1 and not traj.f_get("y").v_explored


def test_explore_int_values_for_a_float_parameter_are_rejected(traj):
    with pytest.raises(ExplorationError, match="float"):
        traj.f_explore({"x": [1, 2]})


def test_failed_explore_changes_nothing(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    with pytest.raises(ExplorationError):
        traj.f_explore({"x": [5.0, 6.0], "y": [1, "bad"]})
    assert traj.f_get("x").f_get_range() == (1.0, 2.0)
    assert not traj.f_get("y").v_explored
    assert len(traj) == 2


def test_explore_a_result_is_refused(traj):
    with pytest.raises(ExplorationError, match="not a parameter"):
        traj.f_explore({"not_a_parameter": [1, 2]})


@pytest.mark.parametrize("bad", [[("x", [1.0])], {}, {"x": []}, {"x": 1.0}, {"name": "abc"}])
def test_explore_bad_input(traj, bad):
    with pytest.raises(ExplorationError):
        traj.f_explore(bad)
    assert len(traj) == 1


def test_explore_again_with_all_parameters_replaces_the_exploration(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    traj.f_explore({"x": [1.0, 2.0, 3.0]})
    assert len(traj) == 3


def test_explore_must_cover_earlier_explored_lengths(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    with pytest.raises(ExplorationError, match="explore all of them together"):
        traj.f_explore({"y": [1, 2, 3]})
    assert len(traj) == 2 and not traj.f_get("y").v_explored  # nothing changed
    assert list(traj.f_get_explored_parameters()) == ["parameters.x"]
    traj.f_explore({"y": [1, 2]})  # same length: joins the exploration
    assert len(traj) == 2 and traj.f_get("y").f_get_range() == (1, 2)


def test_explore_strings_and_arrays(traj):
    traj.f_add_parameter("vec", np.zeros(2))
    traj.f_explore({"name": ["é", "longer ü"], "vec": [np.ones(2), np.arange(2.0)]})
    traj.f_set_crun(1)
    assert traj.name == "longer ü"
    np.testing.assert_array_equal(traj.vec, np.arange(2.0))


def test_f_shrink_drops_the_exploration(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    traj.f_shrink()
    assert len(traj) == 1 and not traj.f_get("x").v_explored
    traj.f_get("x").f_set(3.0)
    assert traj.x == 3.0


# -- f_expand ----------------------------------------------------------------------------------
def test_f_expand_appends_runs(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    traj.f_expand({"x": [3.0, 4.0, 5.0]})
    assert len(traj) == 5
    assert traj.f_get("x").f_get_range() == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert traj.f_get_run_names()[-1] == "run_00000004"


def test_f_expand_new_parameter_keeps_default_for_old_runs(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    traj.f_expand({"x": [3.0], "y": [10]})
    assert traj.f_get("y").f_get_range() == (2, 2, 10)
    traj.f_set_crun(2)
    assert (traj.x, traj.y) == (3.0, 10)


def test_f_expand_must_extend_every_explored_parameter(traj):
    traj.f_explore({"x": [1.0, 2.0], "y": [1, 2]})
    with pytest.raises(ExplorationError, match="parameters.y"):
        traj.f_expand({"x": [3.0]})
    assert len(traj) == 2


def test_failed_f_expand_changes_nothing(traj):
    traj.f_explore({"x": [1.0, 2.0], "y": [1, 2]})
    with pytest.raises(ExplorationError):
        traj.f_expand({"x": [3.0], "y": ["wrong"]})
    assert len(traj) == 2
    assert traj.f_get("x").f_get_range() == (1.0, 2.0)
    assert traj.f_get("y").f_get_range() == (1, 2)
    with pytest.raises(ExplorationError):
        traj.f_expand({"x": [3.0, 4.0], "y": [3]})
    assert len(traj) == 2


def test_f_expand_without_exploration_explores(traj):
    traj.f_expand({"x": [1.0, 2.0]})
    assert len(traj) == 2


# -- runs and the current run ------------------------------------------------------------------
def test_current_run_selects_explored_values(traj):
    traj.f_explore(cartesian_product({"x": [1.0, 2.0], "y": [3, 4]}))
    assert traj.v_idx == -1 and traj.v_crun is None
    assert traj.x == 1.0  # the default outside runs
    traj.f_set_crun(3)
    assert traj.v_idx == 3 and traj.v_crun == "run_00000003"
    assert (traj.x, traj.y) == (2.0, 4)
    assert traj.name == "a"  # not explored: the default
    traj.f_set_crun("run_00000001")
    assert traj.v_idx == 1 and (traj.x, traj.y) == (2.0, 3)
    traj.v_idx = 2
    assert traj.v_crun == "run_00000002" and (traj.x, traj.y) == (1.0, 4)
    traj.v_crun = "run_00000000"
    assert traj.v_idx == 0
    traj.f_set_crun(None)
    assert traj.v_idx == -1 and traj.x == 1.0
    traj.f_set_crun(1)
    traj.f_restore_default()
    assert traj.v_idx == -1 and traj.v_crun_ == "run_ALL"


@pytest.mark.parametrize("bad", [4, -2, 100, "run_00000009", "not_a_run"])
def test_f_set_crun_out_of_range(traj, bad):
    traj.f_explore({"x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(NodeNotFoundError):
        traj.f_set_crun(bad)
    assert traj.v_idx == -1


def test_f_idx_to_run(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    assert traj.f_idx_to_run(1) == "run_00000001"
    assert traj.f_idx_to_run("run_00000001") == 1
    assert traj.f_idx_to_run(np.int64(0)) == "run_00000000"


def test_f_iter_runs(traj):
    traj.f_explore({"x": [1.0, 2.0, 3.0]})
    seen = [(name, traj.x, traj.v_idx) for name in traj.f_iter_runs()]
    assert seen == [("run_00000000", 1.0, 0), ("run_00000001", 2.0, 1),
                    ("run_00000002", 3.0, 2)]
    assert traj.v_idx == -1 and traj.x == 1.0  # restored afterwards
    assert list(traj.f_iter_runs(yields="idx")) == [0, 1, 2]
    assert [t.x for t in traj.f_iter_runs(yields="self")] == [1.0, 2.0, 3.0]
    assert list(traj.f_iter_runs(start=1, step=1, yields="idx")) == [1, 2]
    copies = list(traj.f_iter_runs(yields="copy"))
    assert [copy.x for copy in copies] == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        list(traj.f_iter_runs(yields="bogus"))


def test_f_iter_runs_restores_default_after_break(traj):
    traj.f_explore({"x": [1.0, 2.0, 3.0]})
    iterator = traj.f_iter_runs()
    next(iterator)
    next(iterator)
    iterator.close()
    assert traj.v_idx == -1


def test_run_information_before_runs(traj):
    traj.f_explore({"x": [1.0, 2.0]})
    info = traj.f_get_run_information(1)
    assert info["idx"] == 1 and info["name"] == "run_00000001"
    assert info["completed"] == 0 and info["status"] == "pending"
    assert not traj.f_is_completed()
    assert set(traj.f_get_run_information()) == {"run_00000000", "run_00000001"}
