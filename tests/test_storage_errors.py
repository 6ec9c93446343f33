"""Bad input to storage: missing/corrupt/truncated files, unknown or existing trajectories,
unstorable values -- each a specific error naming the culprit, and nothing stored damaged."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import tables

from distenv import HDF5StorageService, PickleResult, Trajectory, load_trajectory
from distenv.errors import (CorruptFileError, DistenvError, StorageError,
                            TrajectoryExistsError, TrajectoryNotFoundError,
                            UnsupportedTypeError)
from distenv.storage import layout
from helpers.runs import run_sweep


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _leftovers(folder):
    """Temporary files a failed call might have left behind."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob(".*tmp*"))


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.hdf5"
    traj = Trajectory("good", filename=str(path))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": [0, 1, 2, 3]})
    traj.f_add_result("static", np.arange(1000))
    run_sweep(traj, lambda t: (t.f_add_result("z", t.x * 10),
                               t.f_add_result("d", {"x": t.x})))
    return path


def _check_good(path):
    loaded = load_trajectory(name="good", filename=str(path))
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == [0, 10, 20, 30]
    assert list(loaded.f_get_from_runs("d", fast_access=True).values()) == [
        {"x": i} for i in range(4)]
    np.testing.assert_array_equal(loaded.static, np.arange(1000))
    assert loaded.f_is_completed()
    return loaded


# -- missing, foreign, damaged files -----------------------------------------------------------
def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "missing.hdf5"
    with pytest.raises(StorageError) as info:
        load_trajectory(filename=str(path))
    assert str(path) in str(info.value) and "does not exist" in str(info.value)
    assert isinstance(info.value, OSError) and isinstance(info.value, DistenvError)
    assert not path.parent.exists()  # loading creates nothing


def test_load_without_a_file_name():
    with pytest.raises(TypeError, match="filename"):
        load_trajectory()


@pytest.mark.parametrize("content", [b"", b"hello world\n" * 100, b"\x89HDF\r\n\x1a\n" + b"\0" * 50,
                                     os.urandom(4096)],
                         ids=["empty", "text", "hdf5_magic_only", "random"])
def test_not_an_hdf5_file(tmp_path, content):
    path = tmp_path / "not.hdf5"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError) as info:
        load_trajectory(filename=str(path))
    assert str(path) in str(info.value)
    assert isinstance(info.value, StorageError)
    assert path.read_bytes() == content


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_file(good_file, tmp_path, fraction):
    data = good_file.read_bytes()
    path = tmp_path / "truncated.hdf5"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CorruptFileError) as info:
        load_trajectory(filename=str(path))
    assert str(path) in str(info.value)
    assert "truncated" in str(info.value) or "damaged" in str(info.value)


def test_storing_into_a_damaged_file_leaves_it_as_it_was(good_file, tmp_path):
    path = tmp_path / "truncated.hdf5"
    path.write_bytes(good_file.read_bytes()[:5000])
    before = _digest(path)
    traj = Trajectory("newcomer", filename=str(path))
    traj.f_add_parameter("x", 1)
    with pytest.raises(CorruptFileError) as info:
        traj.f_store()
    assert str(path) in str(info.value)
    assert _digest(path) == before
    assert _leftovers(tmp_path) == []


def test_hdf5_file_without_trajectories(tmp_path):
    path = tmp_path / "foreign.hdf5"
    with tables.open_file(str(path), "w") as h5:
        h5.create_array("/", "data", obj=np.arange(3))
        h5.create_group("/", "some_group")
    with pytest.raises(TrajectoryNotFoundError) as info:
        load_trajectory(filename=str(path))
    assert str(path) in str(info.value) and "no distenv trajectory" in str(info.value)
    # distenv may add a trajectory to a foreign file; the foreign data stays
    traj = Trajectory("added", filename=str(path))
    traj.f_add_parameter("x", 1)
    traj.f_store()
    assert load_trajectory(filename=str(path)).x == 1
    with tables.open_file(str(path)) as h5:
        assert h5.root.data.read().tolist() == [0, 1, 2]


# -- which trajectory ---------------------------------------------------------------------------
def test_unknown_trajectory_lists_those_present(good_file):
    other = Trajectory("other", filename=str(good_file))
    other.f_add_parameter("y", 1)
    other.f_store()
    with pytest.raises(TrajectoryNotFoundError) as info:
        load_trajectory(name="wanted", filename=str(good_file))
    message = str(info.value)
    assert "wanted" in message and "good" in message and "other" in message
    assert str(good_file) in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, StorageError)
    with pytest.raises(TrajectoryNotFoundError, match="index 7"):
        load_trajectory(index=7, filename=str(good_file))


def test_new_trajectory_with_an_existing_name(good_file):
    before = _digest(good_file)
    clash = Trajectory("good", filename=str(good_file))
    clash.f_add_parameter("x", 99)
    with pytest.raises(TrajectoryExistsError) as info:
        clash.f_store()
    message = str(info.value)
    assert "good" in message and str(good_file) in message
    assert "overwrite_file" in message or "add_time" in message
    assert isinstance(info.value, FileExistsError)
    assert _digest(good_file) == before
    _check_good(good_file)


def test_add_time_avoids_the_clash(good_file):
    timed = Trajectory("good", add_time=True, filename=str(good_file))
    timed.f_add_parameter("x", 5)
    timed.f_store()
    assert timed.v_name.startswith("good_") and timed.v_name != "good"
    names = HDF5StorageService(filename=str(good_file)).trajectory_names()
    assert names == ["good", timed.v_name]
    _check_good(good_file)


def test_storage_keywords_and_a_service_together(tmp_path):
    service = HDF5StorageService(filename=str(tmp_path / "s.hdf5"))
    with pytest.raises(StorageError, match="complevel"):
        Trajectory("both", storage_service=service, complevel=3)


# -- failed calls damage nothing -------------------------------------------------------------
def test_unpicklable_static_result(good_file, tmp_path):
    before = _digest(good_file)
    traj = load_trajectory(filename=str(good_file))
    lock = threading.Lock()
    traj.f_add_result("bad", lock)
    with pytest.raises(UnsupportedTypeError) as info:
        traj.f_store()
    assert "lock" in str(info.value) and "'bad'" in str(info.value)
    assert _digest(good_file) == before
    assert _leftovers(tmp_path) == []
    _check_good(good_file)
    # once the culprit is gone, storing works again
    traj.results.f_remove_child("bad")
    traj.f_add_result("fine", 1)
    traj.f_store()
    loaded = _check_good(good_file)
    assert loaded.fine == 1 and not loaded.f_contains("results.bad")


def test_unpicklable_item_of_a_pickle_result(good_file):
    traj = load_trajectory(filename=str(good_file))
    traj.f_add_result(PickleResult, "bad", ok=1, broken=lambda: None)
    with pytest.raises(UnsupportedTypeError, match="broken"):
        traj.f_store()
    _check_good(good_file)


def test_unpicklable_per_run_result_fails_that_run_only(tmp_path):
    path = tmp_path / "runs.hdf5"
    traj = Trajectory("runs", filename=str(path), ack_runs=2)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(6))})
    traj.f_store()
    journal = traj.v_storage_service.run_journal(traj)
    failed = []
    for index in range(6):
        traj._set_run(index)
        traj.f_add_result("z", index)
        if index == 2:
            traj.f_add_result("bad", threading.Lock())
        leaves = traj._leave_run()
        try:
            journal.store_run(traj, index, leaves, 1, 0.0, 1.0)
        except UnsupportedTypeError as exc:
            assert "lock" in str(exc) and "'bad'" in str(exc)
            failed.append(index)
    assert failed == [2]  # the bad run raises, not a later flush of good runs
    journal.close()
    assert _leftovers(tmp_path) == []
    loaded = load_trajectory(filename=str(path))
    assert loaded.f_get_from_runs("z", fast_access=True, use_indices=True) == {
        0: 0, 1: 1, 3: 3, 4: 4, 5: 5}  # nothing half-stored of run 2
    assert loaded.results_frame()["status"].tolist() == [
        "completed", "completed", "pending", "completed", "completed", "completed"]
    traj.f_store()
    # run 2 can be done again later, and then is there exactly once
    run_sweep(traj, lambda t: t.f_add_result("z", t.v_idx), indices=[2])
    final = load_trajectory(filename=str(path))
    assert list(final.f_get_from_runs("z", fast_access=True).values()) == list(range(6))
    assert final.f_is_completed()
    with tables.open_file(str(path)) as h5:
        assert sorted(h5.get_node("/runs/run_table").col("index").tolist()) == list(range(6))


def test_fault_during_compaction_keeps_runs_in_the_journal(tmp_path, monkeypatch):
    """An error while the main file is rebuilt: old file intact, runs still readable from
    their shards, and the next store compacts them exactly once."""
    path = tmp_path / "compact.hdf5"
    traj = Trajectory("compact", filename=str(path), ack_runs=2)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(6))})
    run_sweep(traj, lambda t: t.f_add_result("z", t.x * 2), indices=range(2))
    run_sweep(traj, lambda t: t.f_add_result("z", t.x * 2), indices=range(2, 6), store=False)
    before = _digest(path)
    shards = sorted(traj.v_storage_service.journal_dir("compact").glob("*.h5"))
    assert len(shards) == 2

    from distenv.storage import overview

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(overview, "write_overview", broken)
    with pytest.raises(RuntimeError, match="injected fault"):
        traj.f_store()
    assert _digest(path) == before
    assert sorted(traj.v_storage_service.journal_dir("compact").glob("*.h5")) == shards
    assert _leftovers(tmp_path) == []
    loaded = load_trajectory(filename=str(path))
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == [0, 2, 4, 6, 8, 10]
    monkeypatch.undo()
    traj.f_store()
    assert not list(traj.v_storage_service.journal_dir("compact").glob("*.h5"))
    final = load_trajectory(filename=str(path))
    assert list(final.f_get_from_runs("z", fast_access=True).values()) == [0, 2, 4, 6, 8, 10]
    with tables.open_file(str(path)) as h5:
        assert sorted(h5.get_node("/compact/run_table").col("index").tolist()) == list(range(6))
        assert sorted(h5.get_node("/compact/results/runs/crun/z").col("run_index").tolist()) \
            == list(range(6))


def test_fault_while_writing_a_shard(tmp_path, monkeypatch):
    path = tmp_path / "shard.hdf5"
    traj = Trajectory("shard", filename=str(path), ack_runs=2)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(4))})
    traj.f_store()
    journal = traj.v_storage_service.run_journal(traj)
    real = layout.append_run_rows
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("injected: disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(layout, "append_run_rows", flaky)
    outcomes = []
    for index in range(4):
        traj._set_run(index)
        traj.f_add_result("z", index)
        try:
            journal.store_run(traj, index, traj._leave_run(), 1, 0.0, 1.0)
            outcomes.append("ok")
        except OSError:
            outcomes.append("error")
    assert outcomes == ["ok", "ok", "ok", "error"]
    assert len(journal.written) == 1 and _leftovers(tmp_path) == []
    loaded = load_trajectory(filename=str(path))  # the first shard is intact
    assert loaded.f_get_from_runs("z", fast_access=True, use_indices=True) == {0: 0, 1: 1}
    # the unacknowledged runs are still buffered: a retry acknowledges them
    assert journal.flush() is not None
    journal.close()
    traj.f_store()
    assert list(load_trajectory(filename=str(path)).f_get_from_runs(
        "z", fast_access=True).values()) == [0, 1, 2, 3]


def test_a_corrupt_shard_is_named(tmp_path):
    path = tmp_path / "bad_shard.hdf5"
    traj = Trajectory("bs", filename=str(path))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": [0, 1]})
    run_sweep(traj, lambda t: t.f_add_result("z", t.x), indices=[0])
    before = _digest(path)
    directory = traj.v_storage_service.journal_dir("bs")
    directory.mkdir(parents=True, exist_ok=True)
    shard = directory / "9999999999999999999-host-1-000000.h5"
    shard.write_bytes(b"garbage, not hdf5")
    with pytest.raises(CorruptFileError) as info:
        traj.f_store()
    assert shard.name in str(info.value)
    assert _digest(path) == before
    with pytest.raises(CorruptFileError, match=shard.name):
        load_trajectory(filename=str(path))


def _runs_left_in_the_journal(name, path, values):
    """A trajectory whose acknowledged runs are still in journal shards (its writer died
    before compacting them)."""
    traj = Trajectory(name, filename=str(path))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": values})
    run_sweep(traj, lambda t: t.f_add_result("z", t.x * 100), store=False)
    assert list(traj.v_storage_service.journal_dir(name).glob("*.h5"))


def test_overwritten_trajectory_leaves_nothing_to_its_successor(tmp_path):
    path = tmp_path / "reused.hdf5"
    _runs_left_in_the_journal("same", path, [1, 2, 3])
    successor = Trajectory("same", filename=str(path), overwrite_file=True)
    successor.f_add_parameter("x", 0)
    successor.f_explore({"x": [7, 8]})
    run_sweep(successor, lambda t: t.f_add_result("z", t.x), indices=[1])
    loaded = load_trajectory(filename=str(path))
    assert len(loaded) == 2
    assert loaded.f_get_from_runs("z", fast_access=True, use_indices=True) == {1: 8}
    assert loaded.results_frame()["status"].tolist() == ["pending", "completed"]
    # the old runs are not deleted, only kept out of the new trajectory
    assert len(list(Path(str(path) + "-journal").rglob("*.h5"))) == 1


def test_deleted_file_leaves_nothing_to_a_new_trajectory_of_that_name(tmp_path):
    path = tmp_path / "again.hdf5"
    _runs_left_in_the_journal("again", path, [1, 2, 3])
    path.unlink()  # the user deletes the file and starts over
    fresh = Trajectory("again", filename=str(path))
    fresh.f_add_parameter("x", 0)
    fresh.f_explore({"x": [5, 6]})
    fresh.f_store()
    loaded = load_trajectory(filename=str(path))
    assert loaded.f_get_from_runs("z") == {}
    assert not loaded.f_is_completed(0) and not loaded.f_is_completed(1)
    run_sweep(fresh, lambda t: t.f_add_result("z", t.x))
    assert load_trajectory(filename=str(path)).f_get_from_runs(
        "z", fast_access=True, use_indices=True) == {0: 5, 1: 6}
