"""Post-processing, expansion and pipelines (issue 5), beyond tests/test_environment_postproc.py:
post-processing that loads the run data the runs dropped from memory, expansion rounds that
store every run exactly once, pipelines, clean-up, multiprocessing."""

from __future__ import annotations

import pytest
import tables

from distenv import Environment, load_trajectory
from distenv.errors import ConfigurationError


def make_env(name="post", **keywords):
    keywords.setdefault("log_config", None)
    env = Environment(name, filename="hdf5/%s.hdf5" % name, report_progress=False, **keywords)
    env.trajectory.f_add_parameter("x", 1)
    env.trajectory.f_explore({"x": [1, 2, 3]})
    return env, env.trajectory


def square(traj, offset=0):
    traj.f_add_result("y", traj.x ** 2 + offset, comment="the square")
    traj.f_add_result("pair", first=traj.x, second=-traj.x)
    return traj.x ** 2 + offset


def run_table_indices(name="post"):
    with tables.open_file("hdf5/%s.hdf5" % name) as h5:
        return sorted(h5.get_node("/%s/run_table" % name).col("index").tolist())


# -- post-processing reads the run data --------------------------------------------------------------
def test_run_data_is_not_in_memory_but_f_load_brings_it_back():
    env, traj = make_env()
    seen = {}

    def postproc(traj, results):
        seen["in_memory"] = "run_00000000" in traj._by_name
        traj.f_load(load_results=2)
        seen["y"] = traj.f_get_from_runs("y", fast_access=True)
        seen["pair"] = traj.results.runs.run_00000002.pair.f_to_dict()

    env.add_postprocessing(postproc)
    env.run(square)
    assert seen == {"in_memory": False,
                    "y": {"run_00000000": 1, "run_00000001": 4, "run_00000002": 9},
                    "pair": {"first": 3, "second": -3}}


def test_f_load_child_f_load_item_and_auto_loading_in_postprocessing():
    env, traj = make_env()
    seen = {}

    def postproc(traj, results):
        traj.f_load_child("results.runs.run_00000001", recursive=True)
        seen["child"] = traj.results.runs.run_00000001.y
        traj.f_load_item("results.runs.run_00000000.y")
        seen["item"] = traj.f_get("results.runs.run_00000000.y").f_get()
        traj.v_auto_load = True
        seen["auto"] = traj.results.runs.run_00000002.pair.second
        traj.v_auto_load = False  # undo before new runs (seed: changes propagate to runs)

    env.add_postprocessing(postproc)
    env.run(square)
    assert seen == {"child": 4, "item": 1, "auto": -3}


# -- expansion rounds -------------------------------------------------------------------------------
def test_every_expansion_round_stores_its_runs_exactly_once():
    env, traj = make_env()
    rounds = []

    def postproc(traj, results):
        rounds.append(len(results))
        if len(traj) < 9:
            return {"x": [len(traj) + 1, len(traj) + 2, len(traj) + 3]}

    env.add_postprocessing(postproc)
    results = env.run(square)
    assert rounds == [3, 6, 9]
    assert results == [(index, (index + 1) ** 2) for index in range(9)]
    assert run_table_indices() == list(range(9))
    loaded = load_trajectory(filename="hdf5/post.hdf5")
    assert loaded.f_get("x").f_get_range() == tuple(range(1, 10))
    assert list(loaded.results_frame()["y"]) == [(index + 1) ** 2 for index in range(9)]
    assert loaded.f_is_completed()


def test_expansion_with_a_new_parameter_and_new_job_arguments():
    env, traj = make_env()

    def postproc(traj, results):
        if len(traj) == 3:
            traj.f_add_parameter("z", 0)
            return {"x": [10, 20], "z": [1, 2]}, (), {"offset": 100}
        return None

    env.add_postprocessing(postproc)
    assert env.run(square) == [(0, 1), (1, 4), (2, 9), (3, 200), (4, 500)]
    loaded = load_trajectory(filename="hdf5/post.hdf5")
    assert loaded.f_get("z").f_get_range() == (0, 0, 0, 1, 2)


def test_a_five_element_list_with_none_keeps_what_it_does_not_change():
    env, _ = make_env()
    seen = []

    def postproc(traj, results, tag, mark="-"):
        seen.append((tag, mark))
        if len(traj) == 3:
            return [{"x": [4]}, None, None, None, {"mark": "+"}]
        return None

    env.add_postprocessing(postproc, "tag")
    assert env.run(square, 1)[-1] == (3, 17)  # job arguments kept: offset=1
    assert seen == [("tag", "-"), ("tag", "+")]


def test_an_exception_in_postprocessing_leaves_the_runs_stored():
    env, _ = make_env()

    def postproc(traj, results):
        raise ValueError("analysis went wrong")

    env.add_postprocessing(postproc)
    with pytest.raises(ValueError, match="analysis went wrong"):
        env.run(square)
    loaded = load_trajectory(filename="hdf5/post.hdf5")
    assert loaded.f_is_completed() and list(loaded.results_frame()["y"]) == [1, 4, 9]


# -- clean-up after post-processing ----------------------------------------------------------------------
def test_clean_up_runs_false_keeps_the_run_data_postprocessing_loaded():
    env, traj = make_env(clean_up_runs=False)

    def postproc(traj, results):
        traj.f_add_result("summary", sum(value for _, value in results))

    env.add_postprocessing(postproc)
    env.run(square)
    assert traj.results.runs.run_00000001.y == 4  # still in memory
    assert load_trajectory(filename="hdf5/post.hdf5").summary == 14


def test_clean_up_runs_true_drops_run_data_again_after_postprocessing():
    env, traj = make_env(clean_up_runs=True)
    env.add_postprocessing(lambda traj, results: traj.f_load(load_results=2) and None)
    env.run(square)
    assert not [name for name in traj._by_name if name.startswith("run_0")]
    assert traj.f_get_from_runs("y", fast_access=True)["run_00000002"] == 9  # from the file


# -- pipelines -------------------------------------------------------------------------------------------
def pipeline_job(traj, factor, extra=0):
    traj.f_add_result("cards", traj.ncards * factor + extra)
    return traj.ncards * factor + extra


def test_pipeline_returning_only_the_job_triple_stores_the_runs():
    env = Environment("pipe", filename="hdf5/pipe.hdf5", report_progress=False, log_config=None)

    def pipeline(traj):
        traj.f_add_parameter("poker.ncards", 7, comment="Usually we play 7-card-stud")
        traj.f_explore({"ncards": [1, 2, 3]})
        return pipeline_job, (10,), {"extra": 1}

    assert env.pipeline(pipeline) == [(0, 11), (1, 21), (2, 31)]
    loaded = load_trajectory(filename="hdf5/pipe.hdf5")
    assert list(loaded.results_frame()["cards"]) == [11, 21, 31]
    assert loaded.f_get("parameters.poker.ncards").v_comment == "Usually we play 7-card-stud"


def test_pipeline_whose_postprocessing_expands():
    env = Environment("pipe", filename="hdf5/pipe.hdf5", report_progress=False, log_config=None)

    def postproc(traj, results, limit):
        if len(traj) < limit:
            return {"ncards": [len(traj) + 1]}
        traj.f_add_result("total", sum(value for _, value in results))

    def pipeline(traj):
        traj.f_add_parameter("ncards", 7)
        traj.f_explore({"ncards": [1, 2]})
        return (pipeline_job, (2,), {}), (postproc, (4,), {})

    assert env.f_pipeline(pipeline) == [(0, 2), (1, 4), (2, 6), (3, 8)]
    assert load_trajectory(filename="hdf5/pipe.hdf5").total == 20
    assert run_table_indices("pipe") == [0, 1, 2, 3]


def test_a_pipeline_that_is_not_callable_or_returns_nonsense_is_named():
    env = Environment("pipe", report_progress=False, use_hdf5=False, log_config=None)
    with pytest.raises(ConfigurationError, match="pipeline must be callable"):
        env.pipeline(42)
    with pytest.raises(ConfigurationError, match="returns \\(job, args, kwargs\\)"):
        env.pipeline(lambda traj: ((pipeline_job,), (print,), (print,)))


# -- with multiprocessing ----------------------------------------------------------------------------------
def test_postprocessing_expands_a_sweep_made_by_a_pool():
    env, _ = make_env(multiproc=True, ncores=2, use_pool=True)

    def postproc(traj, results):
        if len(traj) == 3:
            return {"x": [4, 5]}

    env.add_postprocessing(postproc)
    assert env.run(square) == [(index, (index + 1) ** 2) for index in range(5)]
    assert run_table_indices() == list(range(5))


def test_immediate_postproc_gets_results_in_finish_order():
    env, _ = make_env(multiproc=True, ncores=2, use_pool=True, immediate_postproc=True)
    seen = []
    env.add_postprocessing(lambda traj, results: seen.append(list(results)))
    results = env.run(square)
    assert sorted(results) == [(0, 1), (1, 4), (2, 9)]
    # an early call while the last runs execute (tests/test_postproc_immediate.py), then the
    # final one with the list the runs finished in, not re-sorted
    assert seen[-1] == results and len(seen) == 2
    assert results[:len(seen[0])] == seen[0] and 0 < len(seen[0]) < 3
