"""The tree and natural naming of a trajectory (in memory; no file is written here)."""

from __future__ import annotations

import pytest

from distenv import Parameter, Result, Trajectory
from distenv.errors import (InvalidNameError, NamingError, NodeExistsError, NodeNotFoundError,
                            NotUniqueNodeError)


@pytest.fixture
def traj():
    traj = Trajectory("naming", comment="a tree to walk")
    traj.f_add_parameter("poker.ncards", 7, comment="Usually we play 7-card-stud")
    traj.f_add_parameter("poker.nplayers", 4)
    traj.f_add_parameter("dice.sides", 6)
    traj.f_add_derived_parameter("odds", 0.25, comment="derived")
    traj.f_add_config("seed", 42)
    traj.f_add_result("summary", total=10, comment="static")
    return traj


# -- reaching the same leaf in every way ------------------------------------------------------
def test_every_spelling_reaches_the_same_leaf(traj):
    leaf = traj.f_get("parameters.poker.ncards")
    assert isinstance(leaf, Parameter)
    assert traj.ncards == 7
    assert traj.poker.ncards == 7
    assert traj.parameters.poker.ncards == 7
    assert traj["ncards"] == 7
    assert traj["poker.ncards"] == 7
    assert traj["parameters.poker.ncards"] == 7
    assert traj.parameters["poker"]["ncards"] == 7
    assert traj.f_get("ncards") is leaf
    assert traj.f_get("ncards", fast_access=True) == 7
    assert traj.parameters.poker.f_get("ncards") is leaf
    assert leaf.v_full_name == "parameters.poker.ncards"
    assert leaf.v_name == "ncards"
    assert leaf.v_location == "parameters.poker"
    assert leaf.v_comment == "Usually we play 7-card-stud"


@pytest.mark.parametrize("shortcut, branch", [("par", "parameters"), ("param", "parameters"),
                                              ("dpar", "derived_parameters"),
                                              ("res", "results"), ("conf", "config")])
def test_branch_shortcuts(traj, shortcut, branch):
    assert getattr(traj, shortcut) is traj.f_get(branch)
    assert traj[shortcut] is traj.f_get(branch)


def test_branch_shortcuts_reach_leaves(traj):
    assert traj.par.poker.ncards == 7
    assert traj.dpar.odds == 0.25
    assert traj.conf.seed == 42
    assert traj.res.summary == 10
    assert traj["par.dice.sides"] == 6


def test_fast_access_off_returns_leaves(traj):
    traj.v_fast_access = False
    assert isinstance(traj.ncards, Parameter)
    assert traj.ncards.f_get() == 7
    traj.v_fast_access = True
    assert traj.ncards == 7


def test_result_items_by_natural_naming(traj):
    traj.f_add_result("several", a=1, b="two")
    assert isinstance(traj.several, Result)  # several items: no fast access
    assert traj.several.a == 1
    assert traj.results.several.b == "two"
    assert traj["several.a"] == 1
    assert traj["results.several.b"] == "two"
    assert traj.summary == 10  # one item: fast access gives the value


def test_shallowest_match_wins(traj):
    traj.f_add_parameter("depth", 1)
    traj.f_add_parameter("deep.deeper.depth", 2)
    assert traj.depth == 1
    assert traj.deep.depth == 2


# -- errors -------------------------------------------------------------------------------
def test_ambiguous_short_name_names_every_match(traj):
    traj.f_add_parameter("cards.ncards", 52)
    traj.f_add_parameter("deck.ncards", 32)
    with pytest.raises(NotUniqueNodeError) as info:
        traj.ncards
    message = str(info.value)
    for full in ("parameters.poker.ncards", "parameters.cards.ncards", "parameters.deck.ncards"):
        assert full in message
    assert "ncards" in message and "3" in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, NamingError)
    with pytest.raises(NotUniqueNodeError):
        traj["ncards"]
    with pytest.raises(NotUniqueNodeError):
        traj.f_get("ncards")
    # a longer name resolves it
    assert traj["deck.ncards"] == 32
    assert traj.parameters.poker.ncards == 7


def test_ambiguous_across_branches(traj):
    traj.f_add_result("dice.sides", 12)  # same depth as parameters.dice.sides
    with pytest.raises(NotUniqueNodeError) as info:
        traj.sides
    assert "parameters.dice.sides" in str(info.value)
    assert "results.dice.sides" in str(info.value)
    assert traj.par.sides == 6 and traj.res.sides == 12
    traj.f_add_result("summary_of_sides", 1)
    traj.f_add_result("sides", 3)  # now results.sides is the shallowest: it wins
    assert traj.sides == 3


def test_not_found_suggests_a_close_name(traj):
    with pytest.raises(NodeNotFoundError) as info:
        traj.ncardz
    message = str(info.value)
    assert "ncardz" in message
    assert "did you mean 'ncards'" in message
    # the exception is an AttributeError and a KeyError, so Python idioms keep working
    assert isinstance(info.value, AttributeError) and isinstance(info.value, KeyError)
    assert not hasattr(traj, "ncardz")
    assert getattr(traj, "ncardz", "fallback") == "fallback"
    with pytest.raises(KeyError):
        traj["ncardz"]
    with pytest.raises(NodeNotFoundError, match="nplayerz"):
        traj.parameters.poker.nplayerz


def test_not_found_below_a_group_lists_its_children(traj):
    with pytest.raises(NodeNotFoundError) as info:
        traj.parameters.poker.f_get("sides")  # exists, but not below poker
    assert "ncards" in str(info.value) and "nplayers" in str(info.value)


def test_without_shortcuts_a_path_is_needed(traj):
    assert traj.f_get("parameters.poker.ncards", shortcuts=False).f_get() == 7
    with pytest.raises(NodeNotFoundError):
        traj.f_get("ncards", shortcuts=False)
    traj.v_shortcuts = False
    with pytest.raises(NodeNotFoundError):
        traj.ncards
    assert traj.parameters.poker.ncards == 7


def test_max_depth_limits_the_search(traj):
    assert traj.f_get("ncards", max_depth=3).f_get() == 7
    with pytest.raises(NodeNotFoundError):
        traj.f_get("ncards", max_depth=2)
    assert traj.parameters.f_get("ncards", max_depth=2).f_get() == 7


def test_a_leaf_has_no_children(traj):
    with pytest.raises(NodeNotFoundError, match="leaf"):
        traj.f_get("parameters.poker.ncards.more")


def test_non_string_name_is_rejected(traj):
    with pytest.raises(InvalidNameError):
        traj.f_get(3)


@pytest.mark.parametrize("bad", ["1abc", "a-b", "with space", "f_get", "v_name", "a..b", ""])
def test_invalid_names_are_rejected(traj, bad):
    with pytest.raises(InvalidNameError) as info:
        traj.f_add_parameter(bad, 1)
    assert isinstance(info.value, ValueError)
    assert "parameters.%s" % bad not in traj._nodes


def test_adding_an_existing_name_raises(traj):
    with pytest.raises(NodeExistsError, match="parameters.poker.ncards"):
        traj.f_add_parameter("poker.ncards", 5)
    assert traj.ncards == 7


def test_nothing_can_be_added_below_a_leaf(traj):
    with pytest.raises(NodeExistsError):
        traj.f_add_parameter("poker.ncards.sub", 1)


def test_invalid_trajectory_name():
    with pytest.raises(InvalidNameError):
        Trajectory("has space")
    with pytest.raises(InvalidNameError):
        Trajectory("slash/name")


# -- groups and children ------------------------------------------------------------------
def test_groups_add_below_themselves(traj):
    group = traj.f_add_parameter_group("network", comment="the net")
    assert group.v_full_name == "parameters.network"
    assert group.v_comment == "the net"
    group.f_add_parameter("size", 10)
    sub = group.f_add_parameter_group("layer")
    sub.f_add_parameter("neurons", 3)
    assert traj.network.size == 10
    assert traj["parameters.network.layer.neurons"] == 3
    assert traj.f_add_parameter_group("network") is group  # existing group is returned
    results = traj.f_add_result_group("analysis")
    results.f_add_result("mean", 1.5)
    assert traj["results.analysis.mean"] == 1.5
    traj.f_add_config_group("paths").f_add_config("home", "/tmp")
    traj.f_add_derived_parameter_group("dgroup").f_add_derived_parameter("dp", 2)
    assert traj.conf.paths.home == "/tmp"
    assert traj.dpar.dgroup.dp == 2


def test_f_add_leaf_adds_the_kind_of_its_branch(traj):
    assert isinstance(traj.results.f_add_leaf("r", 1), Result)
    assert isinstance(traj.parameters.f_add_leaf("p", 1), Parameter)
    assert traj.f_get("results.r").f_get() == 1 and traj.f_get("parameters.p").f_get() == 1
    with pytest.raises(InvalidNameError):
        traj.f_add_leaf("x", 1)  # the root has no default kind


def test_f_get_children(traj):
    children = traj.f_get_children()
    assert list(children) == ["config", "parameters", "derived_parameters", "results"]
    poker = traj.parameters.poker
    assert set(poker.f_get_children()) == {"ncards", "nplayers"}
    assert set(traj.parameters.f_get_groups()) == {"poker", "dice"}
    assert set(poker.f_get_leaves()) == {"ncards", "nplayers"}
    assert poker.f_has_children() and poker.f_children() == 2
    copy = poker.f_get_children(copy=True)
    copy.clear()
    assert poker.f_children() == 2  # a copy does not change the tree


def test_f_iter_nodes_is_breadth_first(traj):
    names = [node.v_full_name for node in traj.f_iter_nodes()]
    assert names.index("parameters") < names.index("parameters.poker") < \
        names.index("parameters.poker.ncards")
    assert set(names) >= {"config.seed", "parameters.dice.sides", "derived_parameters.odds",
                          "results.summary"}
    assert len(names) == len(set(names))
    top = [node.v_full_name for node in traj.f_iter_nodes(recursive=False)]
    assert top == ["config", "parameters", "derived_parameters", "results"]
    leaves = [node.v_full_name for node in traj.parameters.f_iter_nodes(
        predicate=lambda node: node.v_is_leaf)]
    assert sorted(leaves) == ["parameters.dice.sides", "parameters.poker.ncards",
                              "parameters.poker.nplayers"]
    shallow = [node.v_full_name for node in traj.parameters.f_iter_nodes(max_depth=1)]
    assert sorted(shallow) == ["parameters.dice", "parameters.poker"]
    assert sorted(leaf.v_full_name for leaf in traj.parameters.f_iter_leaves()) == sorted(leaves)


def test_f_contains(traj):
    assert traj.f_contains("parameters.poker.ncards")
    assert not traj.f_contains("ncards")  # pypet default: no shortcuts
    assert traj.f_contains("ncards", shortcuts=True)
    assert "ncards" in traj  # the operator uses shortcuts
    assert "nothere" not in traj
    leaf = traj.f_get("ncards")
    assert traj.f_contains(leaf)
    assert traj.parameters.f_contains(leaf)
    assert not traj.results.f_contains(leaf)
    assert traj.parameters.poker.f_contains("ncards")
    assert not traj.parameters.f_contains("ncards", shortcuts=True, max_depth=1)
    # an ambiguous name is "contained" in neither sense of a unique lookup
    other = Parameter("parameters.poker.ncards", 7)
    assert not traj.f_contains(other)


def test_f_to_dict(traj):
    flat = traj.parameters.f_to_dict()
    assert set(flat) == {"parameters.poker.ncards", "parameters.poker.nplayers",
                         "parameters.dice.sides"}
    assert all(isinstance(leaf, Parameter) for leaf in flat.values())
    values = traj.parameters.f_to_dict(fast_access=True)
    assert values == {"parameters.poker.ncards": 7, "parameters.poker.nplayers": 4,
                      "parameters.dice.sides": 6}
    short = traj.parameters.f_to_dict(fast_access=True, short_names=True)
    assert short == {"ncards": 7, "nplayers": 4, "sides": 6}
    nested = traj.parameters.f_to_dict(fast_access=True, nested=True)
    assert nested == {"poker": {"ncards": 7, "nplayers": 4}, "dice": {"sides": 6}}
    everything = traj.f_to_dict(fast_access=True)
    assert everything["config.seed"] == 42
    assert everything["results.summary"] == 10
    traj.f_add_parameter("other.ncards", 1)
    with pytest.raises(ValueError, match="ncards"):
        traj.parameters.f_to_dict(short_names=True)


def test_f_remove_child(traj):
    poker = traj.parameters.poker
    poker.f_remove_child("nplayers")
    assert "nplayers" not in poker.f_get_children()
    with pytest.raises(NodeNotFoundError):
        traj.nplayers
    with pytest.raises(NodeNotFoundError, match="nplayers"):
        poker.f_remove_child("nplayers")
    with pytest.raises(TypeError, match="recursive"):
        traj.parameters.f_remove_child("poker")
    assert traj.ncards == 7
    traj.parameters.f_remove_child("poker", recursive=True)
    with pytest.raises(NodeNotFoundError):
        traj.ncards
    assert not traj.f_contains("parameters.poker")
    # the name is free again
    traj.f_add_parameter("poker.ncards", 5)
    assert traj.ncards == 5


def test_removing_an_explored_parameter_drops_its_exploration(traj):
    traj.f_explore({"ncards": [5, 6, 7]})
    assert len(traj) == 3
    traj.parameters.poker.f_remove_child("ncards")
    assert "parameters.poker.ncards" not in traj.f_get_explored_parameters()


def test_group_f_remove(traj):
    traj.parameters.dice.f_remove()
    assert not traj.f_contains("parameters.dice.sides")
    assert not traj.f_contains("parameters.dice")


def test_dir_lists_children(traj):
    assert "poker" in dir(traj.parameters)
    assert "ncards" in dir(traj.parameters.poker)


def test_properties_of_groups(traj):
    poker = traj.parameters.poker
    assert poker.v_name == "poker"
    assert poker.v_full_name == "parameters.poker"
    assert poker.v_location == "parameters"
    assert poker.v_depth == 2
    assert poker.v_branch == "parameters"
    assert not poker.v_is_root and traj.v_is_root
    assert poker.v_root is traj
    assert poker.v_is_group and not poker.v_is_leaf
    leaf = traj.f_get("ncards")
    assert leaf.v_is_leaf and leaf.v_depth == 3 and leaf.v_branch == "parameters"
    assert traj.v_name == "naming" and traj.v_comment == "a tree to walk"
