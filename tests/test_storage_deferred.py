"""A compaction of several journal shards appends each table once
(``column_tables.DeferredAppends``): every run's values come back with their types, also when
a key's type changes from one shard to the next (those rows are kept per run, as when shards
were appended one by one), and the run table holds one row per run. Real files."""

from __future__ import annotations

import numpy as np
import tables

from distenv import Trajectory, load_trajectory
from distenv.constants import RUN_COMPLETED
from distenv.environment.worker import RunSpec, execute_run
from distenv.storage import journal


def job(traj, kind):
    value = {"float": traj.x * 0.5, "str": "v%d" % traj.x, "int": int(traj.x)}[kind]
    traj.f_add_result("z", value)
    traj.f_add_result("pair", np.array([traj.x, -traj.x], dtype=float))
    return value


def test_shards_with_changing_types_compact_into_the_values_of_every_run(tmp_path):
    kinds = ["float"] * 30 + ["str"] * 20 + ["float"] * 25 + ["int"] * 5
    traj = Trajectory("deferred", filename=str(tmp_path / "deferred.hdf5"))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(len(kinds)))})
    traj.f_store()
    service = traj.v_storage_service
    run_journal = service.run_journal(traj)
    expected = {}
    for index, kind in enumerate(kinds):
        outcome = execute_run(traj, RunSpec(index, job, (kind,), {}, True))
        run_journal.store_run(traj, index, outcome.leaves, outcome.status, outcome.start,
                              outcome.finish)
        expected[index] = outcome.value
        if index in (29, 49, 74, 79):  # a shard where the type changes, and a few more
            run_journal.flush()
    assert len(journal.list_shards(service.journal_dir("deferred"))) == 4
    traj.f_store()
    loaded = load_trajectory("deferred", filename=str(tmp_path / "deferred.hdf5"), load_all=2)
    values = loaded.f_get_from_runs("z", fast_access=True)
    assert [(type(value), value) for value in values.values()] == \
        [(type(expected[index]), expected[index]) for index in range(len(kinds))]
    pairs = loaded.f_get_from_runs("pair", fast_access=True)
    assert all((pair == [index, -index]).all() for index, pair in enumerate(pairs.values()))
    assert list(loaded._run_table.status) == [RUN_COMPLETED] * len(kinds)
    with tables.open_file(str(tmp_path / "deferred.hdf5")) as h5:
        assert h5.get_node("/deferred/run_table").nrows == len(kinds)
