"""Results, per-run placement and wildcards, custom leaf classes, clean aliases (in memory)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distenv import Parameter, PickleResult, Result, Trajectory
from distenv.errors import (InvalidNameError, NodeNotFoundError, NotUniqueNodeError,
                            UnsupportedTypeError)
from helpers.custom_leaves import CelsiusParameter, OtherModuleResult, TaggedResult


@pytest.fixture
def traj():
    traj = Trajectory("results")
    traj.f_add_parameter("x", 1.0)
    traj.f_explore({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    return traj


# -- results ------------------------------------------------------------------------------
def test_result_with_several_items(traj):
    array = np.arange(4)
    frame = pd.DataFrame({"a": [1, 2]})
    result = traj.f_add_result("r", 1, "second", a=1, b=array, frame=frame,
                               comment="several items")
    assert isinstance(result, Result)
    assert result.v_full_name == "results.r"
    assert result.v_comment == "several items"
    assert set(result.f_to_dict()) == {"r", "r_1", "a", "b", "frame"}
    assert result.f_get("r") == 1 and result.f_get("r_1") == "second"
    assert result.f_get("a") == 1
    assert result.f_get("a", "b")[1] is array
    assert result.b is array and result["frame"] is frame
    assert traj.r.a == 1  # several items: natural naming gives the result
    with pytest.raises(ValueError, match="several items"):
        result.f_get()
    with pytest.raises(NodeNotFoundError, match="'nope'"):
        result.f_get("nope")
    with pytest.raises(NodeNotFoundError):
        result.nope


def test_single_item_result_fast_access(traj):
    traj.f_add_result("z", 42, comment="the answer")
    assert traj.z == 42
    assert traj.f_get("z").f_get() == 42
    assert traj.f_get("z").v_comment == "the answer"
    assert traj.f_get("results.z", fast_access=True) == 42


def test_result_items_can_change(traj):
    result = traj.f_add_result("r", a=1)
    result.f_set(b=2)
    result["c"] = 3
    result.f_set_single("d", 4)
    assert result.f_to_dict() == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert "c" in result and "e" not in result
    result.f_remove("c")
    assert "c" not in result
    result.f_empty()
    assert result.f_is_empty()
    with pytest.raises(ValueError, match="empty"):
        result.f_get()


def test_item_names_starting_with_underscore_are_reserved(traj):
    with pytest.raises(UnsupportedTypeError, match="_hidden"):
        traj.f_add_result("r", _hidden=1)


def test_result_holds_any_object(traj):
    class Anything:
        pass
    thing = Anything()
    traj.f_add_result("obj", thing)
    assert traj.obj is thing
    assert traj.f_get("obj").f_supports(thing)
    traj.f_add_result(PickleResult, "pickled", [1, "mixed"])
    assert type(traj.f_get("pickled")) is PickleResult


def test_result_instance_and_groups(traj):
    traj.f_add_result(Result("analysis.mean", 2.5, comment="made outside"))
    assert traj["results.analysis.mean"] == 2.5
    assert traj.analysis.mean == 2.5


def test_config_and_derived_parameters(traj):
    config = traj.f_add_config("paths.output", "/tmp/out", comment="where")
    derived = traj.f_add_derived_parameter("scaled", 2.0)
    assert config.v_full_name == "config.paths.output"
    assert derived.v_full_name == "derived_parameters.scaled"
    assert isinstance(config, Parameter) and isinstance(derived, Parameter)
    assert traj.output == "/tmp/out" and traj.scaled == 2.0


# -- per-run placement ---------------------------------------------------------------------
def test_results_added_during_a_run_go_below_the_run(traj):
    traj._set_run(5)
    try:
        z = traj.f_add_result("z", 25.0, comment="per run")
        d = traj.f_add_derived_parameter("dz", 2.5)
        g = traj.f_add_result("group.deep", 1)
        placed = traj.f_add_result("mine.$.w", 2)
        explicit = traj.f_add_result("runs.$.explicit", 3)
        stat = traj.f_add_result("runs.summary", 4)  # names 'runs': the user decides
        assert z.v_full_name == "results.runs.run_00000005.z"
        assert d.v_full_name == "derived_parameters.runs.run_00000005.dz"
        assert g.v_full_name == "results.runs.run_00000005.group.deep"
        assert placed.v_full_name == "results.mine.run_00000005.w"
        assert explicit.v_full_name == "results.runs.run_00000005.explicit"
        assert stat.v_full_name == "results.runs.summary"
        # the current run in natural naming
        assert traj.z == 25.0
        assert traj.results.runs.crun.z == 25.0
        assert traj.results.runs["$"].z == 25.0
        assert traj["results.runs.crun.z"] == 25.0
        assert traj["results.runs.$.z"] == 25.0
        assert traj.results.runs.run_00000005.z == 25.0
        assert traj.results.runs.r_5.z == 25.0
        assert traj.derived_parameters.runs.crun.dz == 2.5
        assert traj.x == 6.0
        assert traj.v_is_run
    finally:
        leaves = traj._leave_run()
    assert {leaf.v_full_name for leaf in leaves} == {
        "results.runs.run_00000005.z", "derived_parameters.runs.run_00000005.dz",
        "results.runs.run_00000005.group.deep", "results.mine.run_00000005.w",
        "results.runs.run_00000005.explicit", "results.runs.summary"}
    # leaving the run removes its nodes from memory (they were handed to storage)
    assert not traj.f_contains("results.runs.run_00000005.z")
    assert not traj.v_is_run and traj.v_idx == -1


def test_set_wildcard_groups_runs_in_buckets_of_1000():
    traj = Trajectory("buckets")
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(2500))})
    for index in (7, 1234, 2499):
        traj._set_run(index)
        leaf = traj.f_add_result("$set.$.z", index)
        bucket = "run_set_%05d" % (index // 1000)
        assert leaf.v_full_name == "results.%s.run_%08d.z" % (bucket, index)
        assert traj.results.crunset.crun.z == index
        assert traj.results["$set"]["$"].z == index
        assert traj.results[bucket]["run_%08d" % index].z == index
        traj._leave_run(clean_up=False)
    # every run kept in memory: the bucket shortcut rts_<n> and the run shortcut r_<n>
    assert traj.results.rts_1.r_1234.z == 1234
    assert traj.results.run_set_00002.run_00002499.z == 2499


def test_per_run_short_name_is_ambiguous_without_a_current_run(traj):
    for index in range(3):
        traj._set_run(index)
        traj.f_add_result("z", index * 10)
        traj._leave_run(clean_up=False)
    with pytest.raises(NotUniqueNodeError) as info:
        traj.z
    message = str(info.value)
    assert all("results.runs.run_%08d.z" % i in message for i in range(3))
    assert "f_set_crun" in message and "f_get_from_runs" in message
    traj.f_set_crun(1)
    assert traj.z == 10 and traj.results.runs.crun.z == 10 and traj.results.runs.r_2.z == 20
    assert traj.f_get_from_runs("z", fast_access=True) == {
        "run_00000000": 0, "run_00000001": 10, "run_00000002": 20}
    assert traj.f_get_from_runs("z", fast_access=True, use_indices=True) == {0: 0, 1: 10, 2: 20}
    nodes = traj.f_get_from_runs("z")
    assert all(isinstance(node, Result) for node in nodes.values())


def test_unknown_wildcard_is_an_error(traj):
    with pytest.raises(InvalidNameError, match=r"\$nope"):
        traj.f_add_result("$nope.z", 1)


# -- wildcard_functions ------------------------------------------------------------------
def _my_run_name(index):
    return "sim_%03d" % index if index >= 0 else "sim_ALL"


def _my_bucket(index):
    return "pair_%d" % (index // 2) if index >= 0 else "pair_ALL"


def test_custom_run_names():
    traj = Trajectory("custom", wildcard_functions={("$", "crun"): _my_run_name})
    traj.f_add_parameter("x", 1)
    traj.f_explore({"x": [1, 2, 3]})
    assert traj.f_get_run_names() == ["sim_000", "sim_001", "sim_002"]
    traj.f_set_crun("sim_002")
    assert traj.v_idx == 2 and traj.v_crun == "sim_002" and traj.x == 3
    traj.f_set_crun(None)
    traj._set_run(1)
    leaf = traj.f_add_result("z", 5)
    assert leaf.v_full_name == "results.runs.sim_001.z"
    assert traj.results.runs.crun.z == 5
    assert traj.results.runs.sim_001.z == 5
    traj._leave_run()


def test_custom_bucket_wildcard():
    traj = Trajectory("custom", wildcard_functions={("$pair", "pair"): _my_bucket})
    traj.f_add_parameter("x", 1)
    traj.f_explore({"x": [1, 2, 3, 4]})
    names = []
    for index in range(4):
        traj._set_run(index)
        names.append(traj.f_add_result("$pair.$.w", index).v_full_name)
        assert traj.results.pair.crun.w == index
        assert traj.results["$pair"]["$"].w == index
        traj._leave_run(clean_up=False)
    assert names == ["results.pair_0.run_00000000.w", "results.pair_0.run_00000001.w",
                     "results.pair_1.run_00000002.w", "results.pair_1.run_00000003.w"]
    assert traj.results.pair_1.run_00000003.w == 3
    assert traj.f_get_from_runs("w", fast_access=True, use_indices=True) == {
        0: 0, 1: 1, 2: 2, 3: 3}


def test_wildcard_function_must_name_the_dummy_run():
    with pytest.raises(InvalidNameError, match="-1"):
        Trajectory("bad", wildcard_functions={("$", "crun"): lambda index: "r%d" % (10 // (index + 1))})
    with pytest.raises(InvalidNameError, match="str"):
        Trajectory("bad", wildcard_functions={"$odd": lambda index: index})
    with pytest.raises(InvalidNameError, match="callable"):
        Trajectory("bad", wildcard_functions={"$odd": "not a function"})


# -- dynamic imports ---------------------------------------------------------------------
def test_dynamic_imports_by_class_and_by_dotted_name():
    traj = Trajectory("custom", dynamic_imports=[CelsiusParameter,
                                                 "helpers.custom_leaves.TaggedResult"])
    assert traj._leaf_class("CelsiusParameter") is CelsiusParameter
    assert traj._leaf_class("TaggedResult") is TaggedResult
    leaf = traj.f_add_parameter(CelsiusParameter, "temp", 20.0)
    assert leaf.kelvin() == pytest.approx(293.15)
    with pytest.raises(UnsupportedTypeError, match="absolute zero"):
        traj.f_add_parameter(CelsiusParameter, "cold", -300.0)
    result = traj.f_add_result(TaggedResult, "special", 1)
    assert result.tag() == "tagged:special"
    traj.f_add_to_dynamic_imports(OtherModuleResult)
    assert traj._leaf_class("OtherModuleResult") is OtherModuleResult
    traj.f_add_to_dynamic_imports(TaggedResult)  # the same class again is fine


def test_dynamic_imports_single_class():
    traj = Trajectory("custom", dynamic_imports=TaggedResult)
    assert traj._leaf_class("TaggedResult") is TaggedResult


def test_dynamic_imports_reject_duplicate_class_names():
    from helpers.duplicate_names import TaggedResult as Impostor
    with pytest.raises(InvalidNameError) as info:
        Trajectory("dup", dynamic_imports=[TaggedResult, Impostor])
    message = str(info.value)
    assert "TaggedResult" in message
    assert "helpers.custom_leaves" in message and "helpers.duplicate_names" in message

    class Result(PickleResult):  # shadows a built-in class name
        pass
    with pytest.raises(InvalidNameError, match="Result"):
        Trajectory("dup", dynamic_imports=[Result])


@pytest.mark.parametrize("bad", [dict, "helpers.custom_leaves.Missing", "NoModule",
                                 "no_such_module_xyz.Class", 42])
def test_dynamic_imports_bad_entries(bad):
    with pytest.raises(UnsupportedTypeError):
        Trajectory("bad", dynamic_imports=[bad])


def test_unknown_stored_class_says_how_to_fix():
    traj = Trajectory("custom")
    with pytest.raises(UnsupportedTypeError, match="dynamic_imports"):
        traj._leaf_class("CelsiusParameter")


# -- clean aliases ------------------------------------------------------------------------
def test_clean_unprefixed_names():
    traj = Trajectory("clean")
    traj.add_parameter("x", 1.0, comment="clean")
    traj.add_parameter("group.y", 2)
    traj.add_config("c", "conf")
    traj.add_derived_parameter("d", 0.5)
    traj.add_result("r", a=1)
    traj.explore({"x": [1.0, 2.0]})
    traj.expand({"x": [3.0]})
    assert len(traj) == 3
    assert traj.get("x").get() == 1.0
    assert traj.get("r").get("a") == 1
    assert list(traj.get_children()) == ["config", "parameters", "derived_parameters",
                                         "results"]
    assert traj.contains("parameters.x")
    assert traj.get_run_names() == ["run_00000000", "run_00000001", "run_00000002"]
    traj.set_crun(2)
    assert traj.idx == 2 and traj.x == 3.0
    traj.idx = 1
    assert traj.v_idx == 1
    traj.set_crun(None)
    traj.auto_load = True
    assert traj.v_auto_load is True
    traj.fast_access = False
    assert isinstance(traj.x, Parameter)
    traj.fast_access = True
    group = traj.parameters.group
    assert group.get("y").get() == 2
    traj.lock_parameters()
    assert traj.get("y").locked
    assert traj.get("x").explored
    assert [name for name in traj.iter_runs()] == traj.f_get_run_names()
    assert traj.parameters.to_dict(fast_access=True)["parameters.group.y"] == 2
    assert traj.add_parameter.__func__ is Trajectory.f_add_parameter


def test_item_access_reaches_children_shadowed_by_methods():
    traj = Trajectory("shadow")
    traj.f_add_parameter("store", 1)
    traj.f_add_parameter("get", 2)
    traj.f_add_parameter("group.comment", "text")
    traj.f_add_parameter("group.name", "a name")
    assert callable(traj.store) and callable(traj.get)
    assert traj["store"] == 1 and traj["get"] == 2
    assert traj.parameters["store"] == 1
    assert traj.parameters.group.comment == "text"  # 'comment' is no property of groups
    assert traj.parameters.group.name == "a name"
    result = traj.f_add_result("r", get=5, keys=6)
    assert result["get"] == 5 and result["keys"] == 6
