"""Durability under ``kill -9`` (DESIGN §5): a writer subprocess is SIGKILLed at many random
moments -- while computing, while writing journal shards, while compacting, while creating a
file -- and after every kill the files must open with plain PyTables, load with distenv,
hold every acknowledged run exactly once with its value, and let a new process finish the rest.

The writer is ``tests/helpers/kill_writer.py``; it prints ``A <index>`` only after the journal
made that run durable. Set ``DISTENV_KILL_SEED`` to replay a sequence of kill moments.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import tables

from distenv import HDF5StorageService, Trajectory, load_trajectory
from distenv.storage import journal, layout
from helpers import kill_writer
from helpers.kill_scaffolding import ChildProcess, kill_seed, stored_run_indices

pytestmark = pytest.mark.kill

WRITER = Path(kill_writer.__file__)
RUNS = 5000            # more than the killed writers can finish: the last one completes it
KILLS = 30


class Writer(ChildProcess):
    """A writer subprocess (``helpers/kill_writer.py``) and what its lines announce."""

    def __init__(self, args: list[str], log: Path):
        super().__init__([str(WRITER), *args], log)

    def acknowledged(self) -> set[int]:
        return {int(line.split()[1]) for line in self.lines if line.startswith("A ")}

    def count(self, marker: str) -> int:
        return sum(1 for line in self.lines if line == marker)

    def in_compaction(self) -> bool:
        markers = [line for line in self.lines if line in ("C", "c")]
        return bool(markers) and markers[-1] == "C"


@pytest.fixture
def writers(spawn):
    """Start writers through this; whatever is still running at the end is killed."""
    return lambda args, log: spawn(Writer, args, log)


def _log_text(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


# -- what must hold after every kill ---------------------------------------------------------
def _renamed_after_ack(lines: list[str], filename: str) -> bool:
    acks = [position for position, line in enumerate(lines) if line.startswith("A ")]
    return bool(acks) and "w " + filename in lines[acks[0]:]


def compacted_shards_left(path: Path) -> list[str]:
    """Shards already compacted into the main file (listed in its journal log) that are still
    on disk -- what a kill between the rename and the shard removal leaves."""
    name = kill_writer.TRAJECTORY
    with tables.open_file(str(path)) as h5:
        compacted = layout.read_journal_log(h5.get_node("/" + name))
    return [shard.name for shard in journal.list_shards(journal.journal_dir(path, name))
            if shard.name in compacted]


def check_files(path: Path, acknowledged: set[int], runs: int) -> set[int]:
    """Everything DESIGN §5 promises after a kill; returns the runs stored."""
    name = kill_writer.TRAJECTORY
    if not path.exists():
        assert not acknowledged, "runs were acknowledged but the file does not exist"
        return set()
    stored = stored_run_indices(path, name)
    for where, indices in stored.items():
        assert len(indices) == len(set(indices)), "a run is stored twice in %s" % where
    loaded = load_trajectory(name=name, filename=str(path))
    assert len(loaded) == runs
    z = loaded.f_get_from_runs("z", fast_access=True, use_indices=True)
    present = set(z)
    missing = acknowledged - present
    assert not missing, "acknowledged runs lost: %s" % sorted(missing)[:20]
    status = loaded.results_frame()["status"]
    completed = set(np.flatnonzero(status.to_numpy() == "completed").tolist())
    assert completed == present, "run table and data disagree"
    for index, value in z.items():
        assert value == kill_writer.expected_z(index), index
    labels = loaded.f_get_from_runs("label", fast_access=True, use_indices=True)
    assert set(labels) == present
    assert all(text == kill_writer.expected_label(index) for index, text in labels.items())
    vectors = loaded.f_get_from_runs("vector", fast_access=True, use_indices=True)
    assert set(vectors) == present
    for index, vector in vectors.items():
        np.testing.assert_array_equal(vector, kill_writer.expected_vector(index))
    extras = loaded.f_get_from_runs("extra", fast_access=True, use_indices=True)
    assert extras == {index: kill_writer.expected_extra(index) for index in present
                      if kill_writer.expected_extra(index) is not None}
    return present


# -- the tests -----------------------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_random_kills_then_a_new_process_finishes(tmp_path, writers):
    rng = random.Random(kill_seed())
    path = tmp_path / "killed.hdf5"
    log = tmp_path / "writers.log"
    acknowledged: set[int] = set()
    present: set[int] = set()
    # where to kill: at a random time (from the start, or once the writer runs), just after a
    # compaction started, when the new version of the main file is complete but not yet
    # renamed into place, when it was renamed but the shards it took in are not yet removed,
    # just after an acknowledgement
    plan = ["start"] * 2 + ["time"] * 10 + ["compaction"] * 8 + ["commit"] * 3 + \
        ["renamed"] * 2 + ["ack"] * 5
    rng.shuffle(plan)
    plan[0] = "start"  # the first kill may hit the very first store
    interrupted_compactions = 0
    checking = 0.0
    started = time.monotonic()
    for trial, kind in enumerate(plan):
        writer = writers(["runs", str(path), "--runs", str(RUNS), "--ack-runs", "7",
                          "--ack-seconds", "0.05", "--compact-every", "100", "--announce"], log)
        if kind == "start":
            time.sleep(rng.uniform(0.1, 1.5))
        elif kind == "time":
            assert writer.wait_for(lambda lines: "R" in lines, 60), _log_text(log)
            time.sleep(rng.uniform(0.0, 0.8))
        elif kind == "compaction":
            wanted = 1
            assert writer.wait_for(lambda lines: lines.count("C") >= wanted, 60), \
                _log_text(log)
            time.sleep(rng.uniform(0.0, 0.3))
        elif kind == "commit":
            assert writer.wait_for(lambda lines: "W " + path.name in lines, 60), \
                _log_text(log)
        elif kind == "renamed":  # a compaction that took in shards of this writer
            assert writer.wait_for(lambda lines: _renamed_after_ack(lines, path.name), 60), \
                _log_text(log)
        else:
            wanted = rng.randint(1, 20)
            assert writer.wait_for(lambda lines: sum(l.startswith("A ") for l in lines)
                                   >= wanted, 60), _log_text(log)
            time.sleep(rng.uniform(0.0, 0.03))
        code = writer.kill()
        killed = time.monotonic()
        assert code in (-signal.SIGKILL, 0), "writer failed (%s):\n%s" % (code, _log_text(log))
        interrupted_compactions += writer.in_compaction()
        new = writer.acknowledged()
        again = new & present
        assert not again, "stored runs were computed again: %s" % sorted(again)[:20]
        acknowledged |= new
        if kind == "renamed":
            assert compacted_shards_left(path), "expected compacted shards not yet removed"
        present = check_files(path, acknowledged, RUNS)
        checking += time.monotonic() - killed
        print("kill %2d (%-10s): %4d acknowledged, %4d stored%s" % (
            trial, kind, len(acknowledged), len(present),
            ", during compaction" if writer.in_compaction() else ""))
        assert code != 0, "the chain finished all runs; raise RUNS"
    chain_seconds = time.monotonic() - started
    assert interrupted_compactions >= 1, "no kill landed in a compaction"
    assert acknowledged, "no run was ever acknowledged"

    # a follow-up process stores the missing runs into the same trajectory
    final = writers(["runs", str(path), "--runs", str(RUNS), "--ack-runs", "500",
                     "--ack-seconds", "100", "--compact-every", "100000"], log)
    assert final.finish(timeout=120) == 0, _log_text(log)
    assert final.lines[-1] == "DONE"
    assert not (final.acknowledged() & present), "stored runs were computed again"
    assert final.acknowledged() | present == set(range(RUNS))
    present = check_files(path, acknowledged | final.acknowledged(), RUNS)
    assert present == set(range(RUNS))
    for where, indices in stored_run_indices(path, kill_writer.TRAJECTORY).items():
        if not where.startswith("irregular"):
            assert sorted(indices) == list(range(RUNS)), where
    assert load_trajectory(filename=str(path)).f_is_completed()
    directory = journal.journal_dir(path, kill_writer.TRAJECTORY)
    assert not journal.list_shards(directory), "shards left after the final compaction"
    assert not directory.exists() or not list(directory.iterdir()), list(directory.iterdir())
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert leftovers == [], "temporaries of dead writers were not cleaned up"
    print("%d kills (%d during compaction) in %.1f s (%.1f s of it checking); %d runs "
          "acknowledged before the end" % (len(plan), interrupted_compactions, chain_seconds,
                                           checking, len(acknowledged)))


def _check_created(folder: Path, finished: set[int]) -> int:
    """Every file under a final name opens and holds complete trajectories."""
    checked = 0
    for path in sorted(folder.glob("*.hdf5")):
        assert not path.name.startswith(".")
        with tables.open_file(str(path)) as h5:
            for leaf in h5.walk_nodes("/", "Leaf"):
                leaf.read()
        for name in HDF5StorageService(filename=str(path)).trajectory_names():
            loaded = load_trajectory(name=name, filename=str(path))
            number = loaded.number
            np.testing.assert_array_equal(loaded.payload, kill_writer.created_payload(number))
            assert loaded.f_get("x").f_get_range() == (0.5, 1.5)
            checked += 1
    for number in finished:
        assert (folder / ("created_%d.hdf5" % number)).is_file()
        names = HDF5StorageService(filename=str(folder / "shared.hdf5")).trajectory_names()
        assert "shared_%d" % number in names
    return checked


@pytest.mark.timeout(200)
def test_kill_while_creating_and_extending_files(tmp_path, writers):
    """Kills during first stores (file creation) and stores that add to an existing file:
    no unreadable file under a final name, ever."""
    rng = random.Random(kill_seed())
    folder = tmp_path / "created"
    folder.mkdir()
    log = tmp_path / "create.log"
    finished: set[int] = set()
    first_stores_killed = 0
    # while a new file is written / once it is complete but not yet renamed / at random
    plan = ["writing", "complete", "random"] * 3
    for trial, kind in enumerate(plan):
        writer = writers(["create", str(folder), "--announce"], log)
        number = len(list(folder.glob("created_*.hdf5"))) + rng.randint(0, 1)
        target = "created_%d.hdf5" % number
        if kind == "writing":
            assert writer.wait_for(lambda lines: "O " + target in lines, 60), _log_text(log)
            time.sleep(rng.uniform(0.0, 0.1))
        elif kind == "complete":
            assert writer.wait_for(lambda lines: "W " + target in lines, 60), _log_text(log)
        else:
            assert writer.wait_for(lambda lines: "R" in lines, 60), _log_text(log)
            time.sleep(rng.uniform(0.0, 1.0))
        code = writer.kill()
        assert code == -signal.SIGKILL, "writer failed (%s):\n%s" % (code, _log_text(log))
        finished |= {int(line.split()[1]) for line in writer.lines if line.startswith("F ")}
        opened = [line.split()[1] for line in writer.lines if line.startswith("O ")]
        if opened and opened[-1].startswith("created_") and not (folder / opened[-1]).exists():
            first_stores_killed += 1  # killed inside the first store of a new file
        checked = _check_created(folder, finished)
        print("kill %d (%-8s): %d trajectories readable, %d finished" % (
            trial, kind, checked, len(finished)))
    assert first_stores_killed >= 6, first_stores_killed  # 'writing' and 'complete' kills
    assert finished, "no file was ever completed"
    # the next store to the shared file removes what dead writers left beside it
    traj = Trajectory("after", filename=str(folder / "shared.hdf5"))
    traj.f_add_parameter("number", -1)
    traj.f_store()
    assert not list(folder.glob(".shared.hdf5.tmp-*"))
    assert "after" in HDF5StorageService(filename=str(folder / "shared.hdf5")).trajectory_names()
