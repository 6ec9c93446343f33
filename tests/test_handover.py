"""Pool workers hand their last runs to the main process (distenv/storage/handover.py).

A pool worker of the NONE or LOCK mode leaves the runs it made since its last journal shard as
a ``.handover`` file (plain arrays) when it exits; the main process's last store takes them in.
Checked with real pools and files: no worker writes a shard at its exit and every run is
stored; the file round-trips columns, run rows and errors; what the owner does not take in
becomes shards when it exits; files of a dead owner are removed (their runs stay pending),
those of another live owner are left alone; a damaged file fails the store with its name and
loses nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tables

from distenv import Environment, Trajectory, load_trajectory
from distenv.constants import RUN_COMPLETED, RUN_FAILED
from distenv.errors import CorruptFileError
from distenv.storage import handover, journal

pytestmark = pytest.mark.timeout(120)

RUNS = 40


def job(traj):
    traj.f_add_result("z", traj.x * 2.0, comment="doubled")
    traj.f_add_result("v", np.array([traj.x, -traj.x]))
    return traj.x


def make_env(path: Path, wrap_mode: str, **keywords) -> Environment:
    env = Environment("hand", filename=str(path), report_progress=False, log_config=None,
                      multiproc=True, ncores=2, use_pool=True, wrap_mode=wrap_mode,
                      overwrite_file=True, **keywords)
    env.trajectory.f_add_parameter("x", 0.0)
    env.trajectory.f_explore({"x": [float(index) for index in range(RUNS)]})
    return env


@pytest.fixture
def writes(tmp_path, monkeypatch):
    """What every process writes at its exit, shards or hand-overs: the spies are patched in
    before the pool forks, so the workers inherit them and note each write in a file."""
    record = tmp_path / "written"
    real_write_shard, real_hand_over = journal.write_shard, handover.hand_over

    def noted(kind, real):
        def spy(*args):
            with open(record, "a") as stream:
                stream.write("%s %d\n" % (kind, os.getpid()))
            return real(*args)
        return spy

    monkeypatch.setattr(journal, "write_shard", noted("shard", real_write_shard))
    monkeypatch.setattr(handover, "hand_over", noted("handover", real_hand_over))
    return lambda: record.read_text().split() if record.exists() else []


@pytest.mark.parametrize("wrap_mode", ["NONE", "LOCK"])
def test_pool_workers_hand_their_last_runs_over_instead_of_writing_shards(tmp_path, writes,
                                                                          wrap_mode):
    env = make_env(tmp_path / "h.hdf5", wrap_mode)
    assert env.run(job) == [(index, float(index)) for index in range(RUNS)]
    lines = writes()
    assert "shard" not in lines  # no worker wrote a shard
    assert lines.count("handover") == 2 and str(os.getpid()) not in lines
    loaded = load_trajectory("hand", filename=str(tmp_path / "h.hdf5"))
    assert list(loaded._run_table.status) == [RUN_COMPLETED] * RUNS
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == \
        [index * 2.0 for index in range(RUNS)]
    assert not journal.journal_dir(tmp_path / "h.hdf5", "hand").exists()


def test_a_timeout_keeps_shards_for_every_run(tmp_path, writes):
    """With a ``timeout`` workers may be killed: each run is acknowledged on its own, by a
    shard, and nothing is handed over."""
    env = make_env(tmp_path / "t.hdf5", "NONE", timeout=60.0)
    env.run(job)
    lines = writes()
    assert "handover" not in lines and lines.count("shard") == RUNS


def _journal_with_runs(path: Path, runs: int, fail: int | None = None):
    """A stored trajectory and a main-process journal holding ``runs`` runs (run ``fail``
    failed)."""
    traj = Trajectory("hand", filename=str(path))
    traj.f_add_parameter("x", 0.0)
    traj.f_explore({"x": [float(index) for index in range(runs)]})
    traj.f_store()
    service = traj.v_storage_service
    run_journal = service.run_journal(traj)
    for index in range(runs):
        traj._set_run(index)
        if index == fail:
            traj._leave_run()
            run_journal.store_run(traj, index, [], RUN_FAILED, 0.0, 1.0, "Traceback: boom")
            continue
        traj.f_add_result("z", index * 2.0, comment="doubled")
        traj.f_add_result("v", np.array([index, -index]))
        run_journal.store_run(traj, index, traj._leave_run(), RUN_COMPLETED, 0.0, 1.0)
    traj._set_run(None)
    return traj, service, run_journal


def test_a_handed_over_file_round_trips_rows_errors_and_columns(tmp_path):
    traj, service, run_journal = _journal_with_runs(tmp_path / "r.hdf5", 6, fail=3)
    path = handover.hand_over(run_journal.directory, 12345, run_journal.batch, run_journal.ctx)
    assert path.name.endswith(handover.SUFFIX) and not path.name.startswith(".")
    runs, errors, columns = handover.read(path)
    assert runs["index"].tolist() == list(range(6))
    assert runs["status"].tolist() == [RUN_COMPLETED] * 3 + [RUN_FAILED] + [RUN_COMPLETED] * 2
    assert errors["index"].tolist() == [3] and errors["error"][0] == b"Traceback: boom"
    by_key = {meta["key"]: (run_index, arrays) for meta, run_index, arrays in columns}
    assert by_key["results.runs.$.z"][0].tolist() == [0, 1, 2, 4, 5]
    assert by_key["results.runs.$.z"][1]["z"].tolist() == [0.0, 2.0, 4.0, 8.0, 10.0]
    assert by_key["results.runs.$.v"][1]["v"].tolist()[1] == [1, -1]
    assert not list(run_journal.directory.glob(".*.tmp"))


def test_the_file_of_arrays_round_trips_dtypes_and_refuses_what_does_not_fit(tmp_path):
    rows = np.zeros(3, dtype=[("index", "<i8"), ("name", "S12"), ("start", "<f8")])
    rows["index"], rows["name"] = [4, 5, 6], [b"run_4", b"run_5", b"run_6"]
    arrays = {"rows": rows, "matrix": np.arange(6, dtype=">i4").reshape(2, 3),
              "empty": np.empty((0, 3)), "text": np.array(["a", "bcd"]),
              "empty_last": np.empty(0, dtype=np.int64)}
    path = tmp_path / "a.handover"
    handover.write_arrays(path, arrays, {"note": [1, "x"]})
    back, meta = handover.read_arrays(path)
    assert meta == {"note": [1, "x"]} and list(back) == list(arrays)
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape, name
        np.testing.assert_array_equal(back[name], array)
    data = path.read_bytes()
    for damaged, problem in [(b"NOTHANDS" + data[8:], "not a hand-over file"),
                             (data[:30], "ends inside its header"),
                             (data[:-8], "does not fit the file")]:
        path.write_bytes(damaged)
        with pytest.raises(ValueError, match=problem):
            handover.read_arrays(path)
    objects = {"rows": np.array([object()], dtype=object)}  # never written, never read
    with pytest.raises(ValueError):
        handover.write_arrays(path, objects, {})


def test_the_owner_takes_its_handed_over_runs_in_with_its_next_store(tmp_path):
    traj, service, run_journal = _journal_with_runs(tmp_path / "o.hdf5", 5, fail=1)
    handover.hand_over(run_journal.directory, os.getpid(), run_journal.batch, run_journal.ctx)
    traj.f_store()
    loaded = load_trajectory("hand", filename=str(tmp_path / "o.hdf5"))
    assert list(loaded._run_table.status) == [RUN_COMPLETED, RUN_FAILED] + [RUN_COMPLETED] * 3
    assert "boom" in loaded.f_get_run_information(1)["error"]
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == [0.0, 4.0, 6.0, 8.0]
    assert not run_journal.directory.exists()  # taken in and removed


def test_what_the_owner_did_not_take_in_becomes_shards_when_it_exits(tmp_path):
    """The owner ends without a store (here: a subprocess that exits after the hand-over):
    its exit turns the file into an ordinary journal shard, which loading reads."""
    script = textwrap.dedent("""
        import os, sys
        sys.path.insert(0, %r)
        from test_handover import _journal_with_runs
        from distenv.storage import handover
        from pathlib import Path
        traj, service, run_journal = _journal_with_runs(Path(%r), 4)
        handover.watch(service, "hand")
        handover.hand_over(run_journal.directory, os.getpid(), run_journal.batch,
                           run_journal.ctx)
        print("handed over")
    """) % (str(Path(__file__).parent), str(tmp_path / "x.hdf5"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    directory = journal.journal_dir(tmp_path / "x.hdf5", "hand")
    assert not list(directory.glob("*" + handover.SUFFIX))
    assert len(journal.list_shards(directory)) == 1
    loaded = load_trajectory("hand", filename=str(tmp_path / "x.hdf5"))
    assert list(loaded._run_table.status) == [RUN_COMPLETED] * 4
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == [0.0, 2.0, 4.0, 6.0]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_files_of_a_dead_owner_are_removed_and_those_of_a_live_one_left_alone(tmp_path):
    traj, service, run_journal = _journal_with_runs(tmp_path / "d.hdf5", 4)
    dead = handover.hand_over(run_journal.directory, _dead_pid(), run_journal.batch,
                              run_journal.ctx)
    alive = handover.hand_over(run_journal.directory, os.getppid(), run_journal.batch,
                               run_journal.ctx)
    traj.f_store()
    assert not dead.exists() and alive.exists()
    loaded = load_trajectory("hand", filename=str(tmp_path / "d.hdf5"))
    assert not loaded._run_table.completed().any()  # never acknowledged: still pending


def test_a_damaged_file_fails_the_store_with_its_name_and_loses_nothing(tmp_path):
    path = tmp_path / "c.hdf5"
    traj, service, run_journal = _journal_with_runs(path, 3)
    handed = handover.hand_over(run_journal.directory, os.getpid(), run_journal.batch,
                                run_journal.ctx)
    handed.write_bytes(handed.read_bytes()[:40])
    before = path.read_bytes()
    with pytest.raises(CorruptFileError, match=handed.name):
        traj.f_store()
    assert path.read_bytes() == before
    with tables.open_file(str(path)) as h5:
        assert "/hand" in h5


def test_a_batch_with_more_than_columns_is_written_as_a_shard(tmp_path):
    traj = Trajectory("hand", filename=str(tmp_path / "i.hdf5"))
    traj.f_add_parameter("x", 0.0)
    traj.f_explore({"x": [0.0, 1.0]})
    traj.f_store()
    run_journal = traj.v_storage_service.run_journal(traj)
    for index in range(2):
        traj._set_run(index)
        traj.f_add_result("d", {"x": [index] * (index + 1)})  # not one signature: irregular
        run_journal.store_run(traj, index, traj._leave_run(), RUN_COMPLETED, 0.0, 1.0)
    traj._set_run(None)
    assert run_journal.batch.irregular
    assert handover.hand_over(run_journal.directory, os.getpid(), run_journal.batch,
                              run_journal.ctx) is None
    assert not list(run_journal.directory.glob("*" + handover.SUFFIX))
