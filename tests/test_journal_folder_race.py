"""A worker writes its next journal shard while a compaction removes the journal folders it
just emptied (``journal.remove_shards``: the first store of a pool sweep overlaps the runs).
Found by the pool kill test: the worker's ``mkdir`` came before the compaction's ``rmdir``
and its ``open`` after, so the run failed with "No such file or directory". The shard's file
is now reserved before it is written, the folder made again if it vanished. The removal is
injected at exactly that moment; real files."""

from __future__ import annotations

import os
import shutil

import pytest

from distenv import Trajectory, load_trajectory
from distenv.environment.worker import RunSpec, execute_run
from distenv.errors import StorageError
from distenv.storage import journal


def job(traj):
    traj.f_add_result("z", traj.x * 2.0)
    return traj.x


def buffered_journal(tmp_path, runs=5):
    traj = Trajectory("race", filename=str(tmp_path / "race.hdf5"))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(runs))})
    traj.f_store()
    run_journal = traj.v_storage_service.run_journal(traj)
    for index in range(runs):
        outcome = execute_run(traj, RunSpec(index, job))
        run_journal.store_run(traj, index, outcome.leaves, outcome.status, outcome.start,
                              outcome.finish)
    return traj, run_journal


def folders_removed_before_open(monkeypatch, times):
    """The next ``times`` creations of a shard's file find the journal folders gone (a
    compaction removed them right after the writer's mkdir)."""
    real_open, left = os.open, [times]

    def open_after_a_compaction(path, flags, *args, **kwargs):
        if left[0] and str(path).endswith(".tmp"):
            left[0] -= 1
            shutil.rmtree(os.path.dirname(os.path.dirname(path)))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(journal.os, "open", open_after_a_compaction)


def compaction_removes_empty_folders_before_the_write(monkeypatch):
    """Right before the shard is written, a compaction does what ``remove_shards`` does after
    taking in the last shards: remove the journal folders if they are empty."""
    real_write = journal.write_shard

    def write_after_a_compaction(path, *args, **kwargs):
        for folder in (path.parent, path.parent.parent):
            try:
                os.rmdir(folder)
            except OSError:
                pass  # not empty: it stays, as with remove_shards
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(journal, "write_shard", write_after_a_compaction)


@pytest.mark.parametrize("race", [
    lambda monkeypatch: compaction_removes_empty_folders_before_the_write(monkeypatch),
    lambda monkeypatch: folders_removed_before_open(monkeypatch, times=2),
], ids=["folders-emptied-before-the-write", "folders-removed-after-the-mkdir"])
def test_a_shard_is_written_although_a_compaction_removes_its_folder(tmp_path, monkeypatch,
                                                                     race):
    traj, run_journal = buffered_journal(tmp_path)
    race(monkeypatch)
    shard = run_journal.flush()
    assert shard.exists()
    monkeypatch.undo()
    traj.f_store()
    loaded = load_trajectory("race", filename=str(tmp_path / "race.hdf5"), load_all=2)
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == \
        [index * 2.0 for index in range(5)]


def test_a_folder_that_keeps_vanishing_is_a_clear_error(tmp_path, monkeypatch):
    _, run_journal = buffered_journal(tmp_path)
    folders_removed_before_open(monkeypatch, times=journal.RESERVE_ATTEMPTS)
    with pytest.raises(StorageError, match="keeps disappearing"):
        run_journal.flush()
    assert len(run_journal.batch) == 5  # nothing acknowledged, nothing lost from the buffer
