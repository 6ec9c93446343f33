"""RunSpecs: the runs of one batch as columns (indices, one job, arguments per run)."""

from __future__ import annotations

import pytest

from distenv.environment.worker import RunSpec, RunSpecs


def job(traj, *args, **kwargs):
    return args, kwargs


def test_iterating_makes_one_spec_per_run_lazily():
    specs = RunSpecs([4, 7], job, [(1,), (2,)], [{}, {"a": 1}], clean_up=False)
    made = iter(specs)
    assert next(made) == RunSpec(4, job, (1,), {}, False)
    assert list(made) == [RunSpec(7, job, (2,), {"a": 1}, False)]
    assert len(specs) == 2 and specs.indices == [4, 7]


def test_one_input_means_the_very_same_argument_objects():
    args, kwargs = (1, 2), {"k": 3}
    assert RunSpecs([0, 1, 2], job, [args] * 3, [kwargs] * 3).one_input()
    assert not RunSpecs([0, 1], job, [args, tuple([1, 2])], [kwargs] * 2).one_input()  # equal
    assert not RunSpecs([0, 1], job, [args] * 2, [kwargs, {"k": 3}]).one_input()
    assert not RunSpecs([], job, [], []).one_input()


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="2 run indices with 1 argument tuples and 2"):
        RunSpecs([0, 1], job, [()], [{}, {}])
