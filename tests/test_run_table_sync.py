"""After a store the in-memory run table matches the stored one.

A store that compacts journal shards brings the table up to date from the rows it just
appended, instead of reading the whole stored table again, when that is provably the same: the
table matched the file before (nobody else appended meanwhile) and every run marked in memory
since is among the appended rows. Otherwise it reads the file. These tests compare the table in
memory with a fresh read of the file, in every case. Real files, real runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from distenv import Environment, load_trajectory, manual_run
from distenv.constants import RUN_COMPLETED, RUN_FAILED, RUN_PENDING
from distenv.errors import RunFailedError
from distenv.trajectory.runtable import NUMERIC_COLUMNS, RunTable

BREAKS = {"runs": set()}


def job(traj):
    if traj.v_idx in BREAKS["runs"]:
        raise ValueError("run %d breaks" % traj.v_idx)
    traj.f_add_result("y", traj.x * 2.0)
    traj.f_add_result("pair", np.array([traj.x, -traj.x]))
    return traj.x * 2


@pytest.fixture(autouse=True)
def _no_breaks():
    BREAKS["runs"] = set()
    yield
    BREAKS["runs"] = set()


def make_env(name, runs=40, **keywords):
    env = Environment(name, filename="hdf5/%s.hdf5" % name, report_progress=False,
                      log_config=None, **keywords)
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": list(range(runs))})
    return env


@manual_run(store_meta_data=True)
def by_hand(traj):
    traj.f_add_result("y", traj.x * 2.0)
    traj.f_add_result("pair", np.array([traj.x, -traj.x]))


def store_by_hand(traj, index, monkeypatch):
    """Make run ``index`` by hand, store; returns how often the whole run table was read."""
    traj.v_idx = index
    by_hand(traj)
    reads = count_table_reads(monkeypatch)
    traj.f_store()
    return reads[0]


def assert_matches_file(traj):
    """The in-memory run table equals the stored one, column by column, errors included."""
    loaded = load_trajectory(traj.v_name, filename=traj.v_storage_service.filename_for(
        traj.v_name), load_results=1)
    mine, theirs = traj._run_table, loaded._run_table
    assert len(mine) == len(theirs)
    for name in NUMERIC_COLUMNS:
        np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name), err_msg=name)
    assert mine.error == theirs.error
    assert not mine.marked.any()


def count_table_reads(monkeypatch):
    """A list whose only element counts the whole-table reads of the run table."""
    from distenv.storage import loading
    reads, original = [0], loading.read_run_table

    def counted(*args, **kwargs):
        reads[0] += 1
        return original(*args, **kwargs)
    monkeypatch.setattr(loading, "read_run_table", counted)
    return reads


POOL = {"multiproc": True, "ncores": 2, "use_pool": True}


@pytest.mark.parametrize("execution", [{}, dict(POOL, wrap_mode="NONE"),
                                       dict(POOL, wrap_mode="QUEUE"),
                                       dict(POOL, wrap_mode="LOCAL")],
                         ids=["serial", "pool-NONE", "pool-QUEUE", "pool-LOCAL"])
def test_after_a_sweep_the_table_in_memory_is_the_stored_one(execution, monkeypatch):
    env = make_env("sweep", **execution)
    reads = count_table_reads(monkeypatch)
    env.run(job)
    assert reads == [0]  # the first store found no run stored, the last one appended them
    traj = env.trajectory
    assert (traj._run_table.status == RUN_COMPLETED).all()
    assert traj._run_table.file_rows == 40
    assert_matches_file(traj)


@pytest.mark.parametrize("execution", [{}, dict(POOL, wrap_mode="LOCK")], ids=["serial", "pool"])
def test_a_failed_run_made_again_matches_after_each_store(execution):
    BREAKS["runs"] = {3}
    env = make_env("again", **execution)
    with pytest.raises(RunFailedError):
        env.run(job)
    traj = env.trajectory
    assert traj._run_table.status[3] == RUN_FAILED
    assert_matches_file(traj)
    BREAKS["runs"] = set()
    env.run(job)
    assert (traj._run_table.status == RUN_COMPLETED).all()
    assert 3 not in traj._run_table.error
    assert_matches_file(traj)


def test_a_run_marked_in_memory_but_never_stored_is_pending_after_the_store(monkeypatch):
    """A worker that reported a run and died before acknowledging it: the store must not take
    the memory's word for it."""
    env = make_env("unacked", runs=6)
    env.run(job)
    traj = env.trajectory
    traj.f_expand({"x": [6, 7]})
    traj._run_table.mark(6, RUN_COMPLETED, 1.0, 2.0, "nowhere", 1)  # reported, never journaled
    assert store_by_hand(traj, 7, monkeypatch) == 1  # the file had to tell
    assert traj._run_table.status[6] == RUN_PENDING
    assert traj._run_table.status[7] == RUN_COMPLETED
    assert_matches_file(traj)


def test_rows_appended_by_another_writer_are_read(monkeypatch):
    """Another process compacted runs into the file after this table was read: the rows this
    store appends are not all the news, so the file is read."""
    env = make_env("shared", runs=8)
    env.run(job)
    traj = env.trajectory
    traj.f_expand({"x": [8, 9]})
    traj.f_store()
    other = load_trajectory("shared", filename="hdf5/shared.hdf5")
    other.v_idx = 8
    by_hand(other)
    other.f_store()  # the other writer's run 8 is in the file; this process never saw it
    assert store_by_hand(traj, 9, monkeypatch) == 1  # the file had to tell
    assert traj._run_table.status[8] == RUN_COMPLETED
    assert_matches_file(traj)


def test_apply_stored_rows_refuses_an_unknown_or_outdated_table():
    rows = np.zeros(1, dtype=[("index", "i8"), ("status", "i1"), ("start", "f8"),
                              ("finish", "f8"), ("runtime", "f8"), ("pid", "i8"),
                              ("host", "S64"), ("env_hash", "S16")])
    rows["status"] = RUN_COMPLETED
    table = RunTable(2)
    assert not table.apply_stored_rows(rows, {}, 0, 1)  # never read from a file
    table.file_rows = 5
    assert not table.apply_stored_rows(rows, {}, 4, 5)  # someone appended meanwhile
    assert table.apply_stored_rows(rows, {}, 5, 6)
    assert table.status.tolist() == [RUN_COMPLETED, RUN_PENDING] and table.file_rows == 6
