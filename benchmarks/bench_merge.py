"""Merge benchmark: ``distenv merge`` of 100 files x 1,000 runs (pypet: 2 x 1,000 took 15-32 s).

Each input holds one trajectory exploring ``x`` and ``y`` with a scalar ``z`` and a 3-element
array ``v`` per run, written with the journal API (as an executor writes them) and compacted.
The merge runs as the real command line in a subprocess; its wall time is the figure.

Usage::

    .venv/bin/python benchmarks/bench_merge.py [--files 100] [--runs 1000] [--keep]

The last line printed is JSON: ``{"files": ..., "runs_per_file": ..., "merge_seconds": ...}``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0


def write_input(job: tuple[str, int, int]) -> str:
    """Write one input file: ``runs`` runs whose x values start at ``offset``."""
    import numpy as np

    from distenv import Trajectory
    path, offset, runs = job
    traj = Trajectory("sweep", filename=path, fsync=False, ack_runs=runs)
    traj.f_add_parameter("x", 0.0, comment="first explored parameter")
    traj.f_add_parameter("y", 0, comment="second explored parameter")
    traj.f_add_parameter("seed", 42, comment="not explored")
    traj.f_explore({"x": [float(offset + index) for index in range(runs)],
                    "y": [index % 7 for index in range(runs)]})
    traj.f_store()
    journal = traj.v_storage_service.run_journal(traj)
    for index in range(runs):
        traj._set_run(index)
        start = time.time()
        traj.f_add_result("z", traj.x * traj.y, comment="a scalar per run")
        traj.f_add_result("v", np.array([traj.x, traj.y, 1.0]), comment="an array per run")
        journal.store_run(traj, index, traj._leave_run(), 1, start, time.time())
    journal.close()
    traj.f_store()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="distenv-bench-merge-"))
    try:
        inputs = folder / "out"
        inputs.mkdir()
        jobs = [(str(inputs / ("part_%03d.h5" % number)), number * args.runs, args.runs)
                for number in range(args.files)]
        started = time.time()
        with multiprocessing.get_context("spawn").Pool(min(8, os.cpu_count() or 1)) as pool:
            files = pool.map(write_input, jobs)
        write_seconds = time.time() - started
        print("wrote %d files x %d runs in %.1f s" % (args.files, args.runs, write_seconds))
        command = [sys.executable, "-m", "distenv.cli", "merge", *files,
                   "-o", str(folder / "merged.h5")]
        started = time.time()
        done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
        merge_seconds = time.time() - started
        if done.returncode:
            sys.exit("distenv merge failed (exit %d):\n%s" % (done.returncode, done.stderr))
        print(done.stdout.strip())
        from distenv import load_trajectory
        merged = load_trajectory(filename=str(folder / "merged.h5"))
        frame = merged.results_frame()
        expected = args.files * args.runs
        assert len(merged) == expected and len(frame) == expected, (len(merged), expected)
        assert (frame["z"].to_numpy() == frame["x"].to_numpy() * frame["y"].to_numpy()).all()
        assert (frame["status"] == "completed").all()
        size = (folder / "merged.h5").stat().st_size
        print("distenv merge of %d files x %d runs: %.2f s (target <= %.0f s; pypet: 15-32 s for "
              "2 x 1,000 runs); merged file %.1f MB" % (args.files, args.runs, merge_seconds,
                                                        TARGET_SECONDS, size / 1e6))
        print(json.dumps({"benchmark": "merge", "files": args.files, "runs_per_file": args.runs,
                          "runs": expected, "merge_seconds": round(merge_seconds, 3),
                          "write_seconds": round(write_seconds, 3),
                          "merged_bytes": size, "target_seconds": TARGET_SECONDS}))
    finally:
        if args.keep:
            print("kept %s" % folder, file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
