"""A sweep on a pool writes its first store while the first runs execute
(:mod:`distenv.storage.pending`).

The main process's first store is held (fault injection) until a run has started in a worker,
so each test knows the two overlap; it then goes on, or fails. Checked: everything is stored
exactly once; a run that stores from its worker waits for the first store and does not
recreate the file; a first store that fails raises its error, leaves no half-written file, and
the next ``env.run`` makes every run; and no fork happens while a store has HDF5 files open.
Real pools, real files.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tables

from distenv import Environment, load_trajectory
from distenv.constants import RUN_COMPLETED
from distenv.storage import layout, overview
from distenv.storage.files import hdf5_section

RUNS = 24
MAIN = os.getpid()


def job(traj, marker, store_in_run):
    Path(marker).touch()
    if store_in_run and traj.v_idx == 0:
        traj.f_store()  # waits for the main process's first store (the file's lock)
    traj.f_add_result("z", traj.x * 2.0)
    return traj.x * 2


def make_env(wrap_mode, **keywords):
    env = Environment("overlap", filename="hdf5/overlap.hdf5", report_progress=False,
                      log_config=None, multiproc=True, ncores=2, use_pool=True,
                      wrap_mode=wrap_mode, overwrite_file=True, **keywords)
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_add_parameter("label", "first-store")
    env.trajectory.f_explore({"x": list(range(RUNS))})
    return env


def hold_first_store(monkeypatch, marker: Path, fail: bool = False) -> list:
    """The main process's first store waits, with the new file open, until a run started in
    a worker; then it goes on or raises. Returns the list of held stores (0 or 1 entries)."""
    original = overview.write_overview
    held: list = []

    def held_until_a_run_started(*args, **kwargs):
        if os.getpid() == MAIN and not held:
            held.append(time.monotonic())
            deadline = time.monotonic() + 60
            while not marker.exists():
                assert time.monotonic() < deadline, "no run started during the first store"
                time.sleep(0.005)
            if fail:
                raise OSError(28, "No space left on device (injected)")
        return original(*args, **kwargs)

    monkeypatch.setattr(overview, "write_overview", held_until_a_run_started)
    return held


def stored_runs(filename="hdf5/overlap.hdf5"):
    loaded = load_trajectory("overlap", filename=filename, load_all=2)
    table = loaded._run_table
    z = loaded.f_get_from_runs("z", fast_access=True)
    return loaded, table, z


def stored_rows(filename="hdf5/overlap.hdf5"):
    with tables.open_file(filename) as h5:
        return h5.get_node("/overlap/" + layout.RUN_TABLE).nrows


@pytest.mark.timeout(180)
@pytest.mark.parametrize("wrap_mode, store_in_run", [
    ("NONE", False), ("LOCK", False), ("QUEUE", False), ("LOCAL", False),
    ("NONE", True), ("LOCK", True)])  # a run stores from its worker where workers write
def test_runs_execute_during_the_first_store_and_everything_is_stored_once(
        tmp_path, monkeypatch, wrap_mode, store_in_run):
    marker = tmp_path / "a-run-started"
    held = hold_first_store(monkeypatch, marker)
    env = make_env(wrap_mode)
    results = env.run(job, str(marker), store_in_run)
    assert held, "the first store was not made"
    assert results == [(index, index * 2) for index in range(RUNS)]
    loaded, table, z = stored_runs()
    assert loaded.label == "first-store"  # the first store's content survived
    assert list(table.status) == [RUN_COMPLETED] * RUNS
    assert list(z.values()) == [index * 2.0 for index in range(RUNS)]
    assert stored_rows() == RUNS  # one row per run


@pytest.mark.timeout(180)
@pytest.mark.parametrize("wrap_mode", ["NONE", "LOCK"])
def test_shards_written_during_the_first_store_go_to_the_last_one(tmp_path, monkeypatch,
                                                                   wrap_mode):
    """Workers that are done flush their journal at once (``no_more_tasks``; a pool worker hands
    its last runs over, see storage/handover.py), possibly before the first store writes: it
    leaves them to the last store, which takes in every run
    the main process recorded -- so the run table in memory is brought up to date from what
    that store appended, without reading the stored table again."""
    from distenv.storage import handover, loading, service as service_module
    env = make_env(wrap_mode)
    journal = env.trajectory.v_storage_service.journal_dir("overlap")
    original_group = service_module.HDF5StorageService._trajectory_group
    held, reads, read_table = [], [0], loading.read_run_table

    def held_until_a_shard_exists(self, h5, traj):
        if os.getpid() == MAIN and not held:
            held.append(True)
            deadline = time.monotonic() + 60
            while not (journal.is_dir() and (any(journal.glob("*.h5")) or
                                             any(journal.glob("*" + handover.SUFFIX)))):
                assert time.monotonic() < deadline, "no worker flushed during the first store"
                time.sleep(0.005)
        return original_group(self, h5, traj)

    def counted(*args, **kwargs):
        reads[0] += 1
        return read_table(*args, **kwargs)

    monkeypatch.setattr(service_module.HDF5StorageService, "_trajectory_group",
                        held_until_a_shard_exists)
    monkeypatch.setattr(loading, "read_run_table", counted)
    results = env.run(job, str(tmp_path / "started"), False)
    assert held and results == [(index, index * 2) for index in range(RUNS)]
    assert reads == [0]
    assert env.trajectory._run_table.file_rows == RUNS
    loaded, table, z = stored_runs()
    assert list(table.status) == [RUN_COMPLETED] * RUNS and stored_rows() == RUNS
    assert list(z.values()) == [index * 2.0 for index in range(RUNS)]
    np.testing.assert_array_equal(env.trajectory._run_table.finish, table.finish)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("wrap_mode", ["NONE", "QUEUE"])
def test_a_failing_first_store_raises_loses_nothing_and_the_next_run_makes_everything(
        tmp_path, monkeypatch, wrap_mode):
    marker = tmp_path / "a-run-started"
    hold_first_store(monkeypatch, marker, fail=True)
    env = make_env(wrap_mode)
    with pytest.raises(OSError, match="injected"):
        env.run(job, str(marker), False)
    assert not Path("hdf5/overlap.hdf5").exists()  # never half a file
    assert not env.trajectory._stored  # as before the store
    monkeypatch.undo()
    results = env.run(job, str(marker), False)
    assert results == [(index, index * 2) for index in range(RUNS)]
    loaded, table, z = stored_runs()
    assert list(table.status) == [RUN_COMPLETED] * RUNS and stored_rows() == RUNS
    assert list(z.values()) == [index * 2.0 for index in range(RUNS)]


def fork_in_thread(done: threading.Event, codes: list) -> None:
    pid = os.fork()
    if pid == 0:  # the child may enter a section (its lock is its own)
        with hdf5_section():
            os._exit(7)
    done.set()
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))


@pytest.mark.timeout(60)
def test_no_fork_happens_inside_an_hdf5_section():
    done, codes = threading.Event(), []
    with hdf5_section():
        thread = threading.Thread(target=fork_in_thread, args=(done, codes))
        thread.start()
        assert not done.wait(0.5), "a thread forked while a store had HDF5 files open"
        with hdf5_section():  # re-entrant in the thread that holds it
            pass
    assert done.wait(30)
    thread.join(30)
    assert codes == [7]
