"""Natural-naming assignment (pypet's ``__setattr__``): ``traj.x = 3`` sets an existing leaf."""

from __future__ import annotations

import pytest

from distenv import Environment, Trajectory, load_trajectory
from distenv.errors import NodeNotFoundError, NotALeafError, ParameterLockedError


@pytest.fixture
def traj():
    traj = Trajectory("assign")
    traj.f_add_parameter("x", 1)
    traj.f_add_parameter("group.y", 2.0)
    traj.f_add_result("summary", 0)
    return traj


def test_assignment_sets_the_leaf_through_every_path(traj):
    traj.x = 3
    assert traj.f_get("x").f_get() == 3
    traj.parameters.x = 4
    assert traj.x == 4
    traj.par.x = 5
    traj.par.group.y = 6.5
    traj.y = 7.5  # a shortcut, as for reading
    assert (traj.x, traj.f_get("group.y").f_get()) == (5, 7.5)
    traj.summary = 42  # a result: its default item
    assert traj.f_get("summary").f_get() == 42
    assert "x" not in traj.__dict__ and "x" not in traj.parameters.__dict__


def test_assignment_raises_what_f_set_raises(traj):
    with pytest.raises(TypeError):  # the parameter checks the type
        traj.x = object()
    traj.f_explore({"x": [1, 2]})
    with pytest.raises(ParameterLockedError, match="explored"):
        traj.x = 9
    traj.f_get("y").f_lock()
    with pytest.raises(ParameterLockedError, match="locked"):
        traj.y = 1.0


def test_assigning_a_name_that_is_no_leaf_says_what_to_do(traj):
    with pytest.raises(NodeNotFoundError, match="f_add_parameter\\('ncards', value\\)") as info:
        traj.ncards = 7
    assert "traj.ncards" in str(info.value) and isinstance(info.value, AttributeError)
    with pytest.raises(NodeNotFoundError, match="parameters.z"):
        traj.parameters.z = 1
    with pytest.raises(NotALeafError, match="'parameters.group' is a group"):
        traj.group = 1
    assert "ncards" not in traj.__dict__


def test_private_prefixed_and_class_attributes_stay_attributes(traj):
    traj._scratch = 1
    traj.v_fast_access = False
    traj.v_idx = 0
    traj.f_custom = "mine"
    assert (traj._scratch, traj.v_fast_access, traj.v_idx, traj.f_custom) == (1, False, 0, "mine")
    traj.v_idx = -1
    traj.v_comment = "a comment"  # a property with a setter
    assert traj.v_comment == "a comment"
    with pytest.raises(AttributeError):
        traj.v_name = "other"  # read-only property


def test_a_job_sets_a_stored_result_by_assignment():
    env = Environment("assigned", filename="hdf5/assigned.hdf5", report_progress=False,
                      log_config=None)
    traj = env.trajectory
    traj.f_add_parameter("x", 1)
    traj.f_add_result("last", -1)
    traj.f_explore({"x": [1, 2, 3]})
    traj.last = 0
    env.run(lambda traj: traj.x)
    loaded = load_trajectory("assigned", filename="hdf5/assigned.hdf5", load_results=2)
    assert loaded.f_get("last").f_get() == 0
