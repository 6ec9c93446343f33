"""A writer for the kill tests: run it, SIGKILL it at any moment, check the files.

``python kill_writer.py runs FILE --runs N``
    Explores N runs (or continues the trajectory already in FILE), stores every pending run
    through the run journal and compacts now and then. Prints ``A <index>`` for every run as
    soon as it is acknowledged (its shard is durable), ``C`` before and ``c`` after each
    compaction, ``S`` after the first store, ``R`` when it starts running, ``DONE`` at the end. stdout is flushed after every line.

``python kill_writer.py create FOLDER``
    Creates one new file after another (``FOLDER/created_<k>.hdf5``, each a first store) and
    adds trajectory ``shared_<k>`` to ``FOLDER/shared.hdf5``; prints ``R`` after its imports
    and ``F <k>`` once both stores returned.

With ``--announce`` the writer also prints ``O <file>`` when it starts writing a new version of
a main file, ``W <file>`` when that version is complete and about to be renamed into place, and
``w <file>`` once it was renamed (see :func:`announce_file_changes`).

The values every run stores are functions of the run index (:func:`expected_z`, ...), so a
checker knows what each acknowledged run must hold.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

TRAJECTORY = "killed"


def explored(index: int) -> tuple[float, int]:
    return index * 0.5, index % 7


def expected_z(index: int) -> float:
    x, y = explored(index)
    return x * 3.0 + y


def expected_label(index: int) -> str:
    return "run-%d-" % index + "x" * (index % 13)  # strings of varying length


def expected_vector(index: int) -> np.ndarray:
    return np.arange(3, dtype=np.float64) + index


def expected_extra(index: int) -> dict | None:
    """Every 50th run also stores an irregular (per-run group) value."""
    return {"index": index, "square": index * index} if index % 50 == 0 else None


def created_payload(number: int) -> np.ndarray:
    return np.random.default_rng(number).random(150_000)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def announce_file_changes() -> None:
    """Fault-injection hooks: say when a new version of a main file is opened (``O <name>``),
    when it is complete and about to replace the old one (``W <name>``) and when it has
    replaced it (``w <name>``; the journal shards it took in are removed after that), each but
    the first followed by a short pause, so a test can kill at exactly those moments."""
    import contextlib
    import time

    from distenv.storage import files, pending

    opening = pending.replacing
    committing = files.commit_temporary

    @contextlib.contextmanager
    def announced_replacing(path, *args, **kwargs):
        _say("O %s" % Path(path).name)
        with opening(path, *args, **kwargs) as handle:
            yield handle
        _say("w %s" % Path(path).name)  # renamed into place; compacted shards not yet removed
        time.sleep(0.1)

    def announced_commit(temporary, final, fsync):
        _say("W %s" % Path(final).name)
        time.sleep(0.1)
        committing(temporary, final, fsync)

    pending.replacing = announced_replacing
    files.commit_temporary = announced_commit


def run_mode(filename: str, runs: int, ack_runs: int, ack_seconds: float, compact_every: int,
             fsync: bool) -> None:
    from distenv import HDF5StorageService, Trajectory, load_trajectory
    from distenv.constants import RUN_COMPLETED

    service = HDF5StorageService(filename=filename, ack_runs=ack_runs, ack_seconds=ack_seconds,
                                 fsync=fsync)
    if TRAJECTORY in service.trajectory_names(TRAJECTORY):
        traj = load_trajectory(name=TRAJECTORY, storage_service=service, load_all=1)
        _say("C")  # compact what the previous (killed) writer acknowledged
        traj.f_store()
        _say("c")
    else:
        traj = Trajectory(TRAJECTORY, storage_service=service)
        traj.f_add_parameter("x", 0.0)
        traj.f_add_parameter("y", 0)
        pairs = [explored(index) for index in range(runs)]
        traj.f_explore({"x": [x for x, _ in pairs], "y": [y for _, y in pairs]})
        traj.f_store()
        _say("S")
    pending = [index for index in range(len(traj)) if not traj.f_is_completed(index)]
    journal = service.run_journal(traj)
    _say("R")
    batch: list[int] = []

    def acknowledge() -> None:
        for index in batch:
            _say("A %d" % index)
        batch.clear()

    for count, index in enumerate(pending, 1):
        traj._set_run(index)
        traj.f_add_result("z", traj.x * 3.0 + traj.y, comment="z of the run")
        traj.f_add_result("label", expected_label(index))
        traj.f_add_result("vector", expected_vector(index))
        extra = expected_extra(index)
        if extra is not None:
            traj.f_add_result("extra", extra)
        leaves = traj._leave_run()
        written = len(journal.written)
        batch.append(index)
        journal.store_run(traj, index, leaves, RUN_COMPLETED, 0.0, 1.0)
        if len(journal.written) > written:
            acknowledge()
        if count % compact_every == 0:
            if journal.flush() is not None:
                acknowledge()
            _say("C")
            traj.f_store()
            _say("c")
    if journal.flush() is not None:
        acknowledge()
    _say("C")
    traj.f_store()
    _say("c")
    _say("DONE")


def create_mode(folder: str) -> None:
    from distenv import Trajectory

    folder_path = Path(folder)
    number = len(list(folder_path.glob("created_*.hdf5")))
    _say("R")
    while True:
        for filename, name in ((folder_path / ("created_%d.hdf5" % number), "created"),
                               (folder_path / "shared.hdf5", "shared_%d" % number)):
            traj = Trajectory(name, filename=str(filename), overwrite_file=False)
            traj.f_add_parameter("number", number)
            traj.f_add_parameter("x", 0.0)
            traj.f_explore({"x": [0.5, 1.5]})
            traj.f_add_result("payload", created_payload(number))
            traj.f_store()
        _say("F %d" % number)
        number += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["runs", "create"])
    parser.add_argument("path")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--ack-runs", type=int, default=7)
    parser.add_argument("--ack-seconds", type=float, default=0.05)
    parser.add_argument("--compact-every", type=int, default=60)
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--announce", action="store_true",
                        help="print O/W lines around main-file changes (see announce_file_changes)")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if args.announce:
        announce_file_changes()
    if args.mode == "runs":
        run_mode(args.path, args.runs, args.ack_runs, args.ack_seconds, args.compact_every,
                 not args.no_fsync)
    else:
        create_mode(args.path)


if __name__ == "__main__":
    main()
