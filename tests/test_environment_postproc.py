"""Serial post-processing (with expansion) and pipelines."""

from __future__ import annotations

import pytest

from distenv import load_trajectory
from distenv.environment import Environment
from distenv.errors import ConfigurationError


def make_env(**keywords):
    env = Environment("post", filename="hdf5/post.hdf5", report_progress=False, **keywords)
    env.trajectory.f_add_parameter("x", 1)
    env.trajectory.f_explore({"x": [1, 2, 3]})
    return env, env.trajectory


def square(traj, offset=0):
    traj.f_add_result("y", traj.x ** 2 + offset)
    return traj.x ** 2 + offset


def test_postprocessing_gets_results_and_its_arguments():
    env, _ = make_env()
    calls = []

    def postproc(traj, results, first, second=None):
        calls.append((traj.v_name, list(results), first, second))
        traj.f_add_result("summary", sum(value for _, value in results))

    env.add_postprocessing(postproc, 42, second=42.5)
    assert env.run(square) == [(0, 1), (1, 4), (2, 9)]
    assert calls == [("post", [(0, 1), (1, 4), (2, 9)], 42, 42.5)]
    assert load_trajectory(filename="hdf5/post.hdf5").summary == 14


@pytest.mark.parametrize("alias", ["f_add_postprocessing", "add_postproc", "f_add_postproc"])
def test_postprocessing_aliases(alias):
    env, _ = make_env()
    seen = []
    getattr(env, alias)(lambda traj, results: seen.append(len(results)))
    env.run(square)
    assert seen == [3]


def test_returning_a_dict_expands_and_runs_again_until_none():
    env, traj = make_env()
    rounds = []

    def postproc(traj, results):
        rounds.append([index for index, _ in results])
        if len(traj) < 5:
            return {"x": [len(traj) + 1]}
        return None

    env.add_postprocessing(postproc)
    results = env.run(square)
    assert rounds == [[0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]]
    assert results == [(0, 1), (1, 4), (2, 9), (3, 16), (4, 25)]
    frame = load_trajectory(filename="hdf5/post.hdf5").results_frame()
    assert list(frame["y"]) == [1, 4, 9, 16, 25]
    assert set(frame["status"]) == {"completed"}


def test_calling_f_expand_inside_postprocessing_also_runs_the_new_points():
    env, _ = make_env()

    def postproc(traj, results):
        if len(traj) == 3:
            traj.f_expand({"x": [10, 20]})

    env.add_postprocessing(postproc)
    assert [value for _, value in env.run(square)] == [1, 4, 9, 100, 400]


def test_five_element_return_changes_job_and_postprocessing_arguments():
    env, _ = make_env()
    seen_post_args = []

    def postproc(traj, results, tag, flag=False):
        seen_post_args.append((tag, flag))
        if len(traj) == 3:
            return {"x": [4]}, (), {"offset": 1000}, ("second",), {"flag": True}
        return None

    env.add_postprocessing(postproc, "first")
    results = env.run(square)
    assert results[-1] == (3, 1016)
    assert seen_post_args == [("first", False), ("second", True)]


def test_run_map_with_new_iterables_from_postprocessing():
    env, _ = make_env()

    def postproc(traj, results):
        if len(traj) == 3:
            return {"x": [4, 5]}, ([100, 200],)
        return None

    env.add_postprocessing(postproc)
    results = env.run_map(lambda traj, add: traj.x + add, [10, 20, 30])
    assert results == [(0, 11), (1, 22), (2, 33), (3, 104), (4, 205)]


def test_bad_postprocessing_return_is_named():
    env, _ = make_env()
    env.add_postprocessing(lambda traj, results: 42)
    with pytest.raises(ConfigurationError, match="it returned 42"):
        env.run(square)
    env, _ = make_env(overwrite_file=True)
    env.add_postprocessing(lambda traj, results: ([1],))
    with pytest.raises(ConfigurationError, match="must be None or a dict"):
        env.run(square)


def test_postprocessing_must_be_callable():
    env, _ = make_env()
    with pytest.raises(ConfigurationError, match="post-processing function must be callable"):
        env.add_postprocessing("not a function")


def test_postprocessing_cleans_up_run_data_it_loaded():
    env, traj = make_env(clean_up_runs=True)

    def postproc(traj, results):
        traj.f_load(load_data=2)
        assert traj.f_get_from_runs("y", fast_access=True)

    env.add_postprocessing(postproc)
    env.run(square)
    assert "run_00000000" not in traj._by_name


# -- pipeline ---------------------------------------------------------------------------------------
def test_pipeline_with_job_and_postprocessing():
    env = Environment("pipe", filename="hdf5/pipe.hdf5", report_progress=False)
    post_calls = []

    def postproc(traj, results, label, scale=1):
        post_calls.append((label, scale, len(results)))

    def pipeline(traj):
        traj.f_add_parameter("poker.ncards", 7, comment="Usually we play 7-card-stud")
        traj.f_explore({"ncards": [5, 7]})
        return (square_cards, (3,), {"extra": 1}), (postproc, ("done",), {"scale": 2})

    assert env.pipeline(pipeline) == [(0, 16), (1, 22)]
    assert post_calls == [("done", 2, 2)]
    assert len(load_trajectory(filename="hdf5/pipe.hdf5")) == 2


def square_cards(traj, factor, extra=0):
    return traj.ncards * factor + extra


def test_f_pipeline_with_only_the_job_triple():
    env = Environment("pipe", report_progress=False, use_hdf5=False)

    def pipeline(traj):
        traj.f_add_parameter("ncards", 7)
        traj.f_explore({"ncards": [1, 2]})
        return square_cards, (2,), {}

    assert env.f_pipeline(pipeline) == [(0, 2), (1, 4)]


def test_pipeline_with_short_tuples():
    env = Environment("pipe", report_progress=False, use_hdf5=False)

    def pipeline(traj):
        traj.f_add_parameter("ncards", 7)
        return (lambda traj: traj.ncards,), None

    assert env.pipeline(pipeline) == [(0, 7)]


@pytest.mark.parametrize("returned,message", [
    (None, "it returned None"),
    ((1, 2), r"it returned \(1, 2\)"),
    ((square_cards, 3), "the job positional arguments must be a tuple or list, not 3"),
    ((square_cards, (), []), "the job keyword arguments must be a dict"),
    (((square_cards,), ("nope",)), "the post-processing function must be callable"),
])
def test_bad_pipeline_return_is_named(returned, message):
    env = Environment("pipe", report_progress=False, use_hdf5=False)
    with pytest.raises(ConfigurationError, match=message):
        env.pipeline(lambda traj: returned)


def test_resume_without_snapshots_says_where_it_looked():
    env, _ = make_env()
    for method in (env.resume, env.f_continue):
        with pytest.raises(ConfigurationError, match="resume folder resume does not exist"):
            method(trajectory_name="post", resume_folder="resume")
