"""Serial sweep benchmark (issue 2): distenv vs a bare loop vs pypet 0.6.1, same machine, same run.

The sweep: parameters ``x`` and ``y`` explored by ``cartesian_product``; the job stores one
scalar and one 3-element array per run. Printed: end-to-end runs/s (``env.run`` including the
final store), file size per 1000 runs, time to load all results of 10,000 runs, the time of
``results_frame()`` for 1,000,000 runs, and ratios against a bare Python loop and pypet.

Usage::

    .venv/bin/python benchmarks/bench_serial.py                 # everything (pypet: ~1-2 min)
    .venv/bin/python benchmarks/bench_serial.py --no-pypet --million 0

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
WORK = HERE / "_work" / "serial"


def job(traj):
    x, y = traj.x, traj.y
    traj.f_add_result("z", x * y)
    traj.f_add_result("arr", np.array([x, y, x * y]))
    return x * y


def grid(runs: int) -> dict:
    from distenv import cartesian_product
    side = int(round(runs ** 0.5))
    return cartesian_product({"x": [float(i) for i in range(side)],
                              "y": [float(j) for j in range(runs // side)]})


def distenv_sweep(runs: int, name: str) -> dict:
    """Run the sweep through an Environment; returns wall time, rate and file size."""
    from distenv.environment import Environment
    filename = WORK / ("%s.hdf5" % name)
    env = Environment(trajectory=name, filename=str(filename), overwrite_file=True,
                      report_progress=False)
    traj = env.trajectory
    traj.f_add_parameter("x", 0.0)
    traj.f_add_parameter("y", 0.0)
    traj.f_explore(grid(runs))
    start = time.perf_counter()
    env.run(job)
    wall = time.perf_counter() - start
    size = filename.stat().st_size
    return {"runs": len(traj), "wall_s": wall, "runs_per_s": len(traj) / wall,
            "file_mb": size / 1e6, "mb_per_1000_runs": size / 1e6 / len(traj) * 1000,
            "filename": str(filename)}


def bare_loop(runs: int) -> dict:
    """The same arithmetic and array creation with no framework at all."""
    points = grid(runs)
    start = time.perf_counter()
    zs, arrays = [], []
    for x, y in zip(points["x"], points["y"]):
        zs.append(x * y)
        arrays.append(np.array([x, y, x * y]))
    wall = time.perf_counter() - start
    return {"runs": len(zs), "wall_s": wall, "runs_per_s": len(zs) / wall}


def load_all(filename: str) -> dict:
    from distenv import load_trajectory
    start = time.perf_counter()
    traj = load_trajectory(filename=filename)
    z = traj.f_get_from_runs("z", fast_access=True)
    arrays = traj.f_get_from_runs("arr", fast_access=True)
    wall = time.perf_counter() - start
    assert len(z) == len(arrays) == len(traj)
    return {"runs": len(traj), "load_s": wall}


def million_frame(runs: int) -> dict:
    """Store ``runs`` runs through the journal directly, then time load + results_frame()."""
    from distenv import Trajectory, load_trajectory
    filename = WORK / "million.hdf5"
    traj = Trajectory("million", filename=str(filename), overwrite_file=True)
    traj.f_add_parameter("x", 0.0)
    traj.f_add_parameter("y", 0.0)
    traj.f_explore(grid(runs))
    traj.f_store()
    journal = traj.v_storage_service.run_journal(traj)
    start = time.perf_counter()
    for index in range(len(traj)):
        traj._set_run(index)
        traj.f_add_result("z", traj.x * traj.y)
        journal.store_run(traj, index, traj._leave_run(), 1, 0.0, 0.0)
    journal.close()
    traj.f_store()
    store_s = time.perf_counter() - start
    start = time.perf_counter()
    loaded = load_trajectory(filename=str(filename))
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    frame = loaded.results_frame()
    frame_s = time.perf_counter() - start
    assert len(frame) == len(traj)
    return {"runs": len(traj), "store_s": store_s, "load_s": load_s, "results_frame_s": frame_s,
            "file_mb": filename.stat().st_size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--load-runs", type=int, default=10000)
    parser.add_argument("--million", type=int, default=1_000_000,
                        help="runs for the results_frame figure (0 to skip)")
    parser.add_argument("--no-pypet", action="store_true")
    parser.add_argument("--pypet-runs", type=int, default=1000)
    parser.add_argument("--pypet-time-limit", type=float, default=300)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    figures: dict = {"machine_cores": os.cpu_count()}

    bare = bare_loop(args.runs)
    figures["bare_loop"] = bare
    print("bare loop:        %8.0f runs/s (%d runs)" % (bare["runs_per_s"], bare["runs"]))

    sweep = distenv_sweep(args.runs, "serial")
    figures["distenv"] = sweep
    print("distenv serial:   %8.0f runs/s (%d runs, %.2f s end to end), file %.3f MB = %.4f MB "
          "per 1000 runs" % (sweep["runs_per_s"], sweep["runs"], sweep["wall_s"], sweep["file_mb"],
                             sweep["mb_per_1000_runs"]))
    print("  -> %.1f%% of a bare loop's throughput" % (100 * sweep["runs_per_s"] / bare["runs_per_s"]))

    loading = distenv_sweep(args.load_runs, "load10k")
    load = load_all(loading["filename"])
    figures["load"] = load
    print("load all results of %d runs: %.3f s" % (load["runs"], load["load_s"]))

    if args.million:
        million = million_frame(args.million)
        figures["million"] = million
        print("%d runs: stored in %.1f s, file %.1f MB, loaded in %.2f s, results_frame() in %.2f s"
              % (million["runs"], million["store_s"], million["file_mb"], million["load_s"],
                 million["results_frame_s"]))

    if not args.no_pypet:
        from pypet_common import run_pypet
        pypet = run_pypet(["pypet_sweep.py", "--runs", str(args.pypet_runs), "--mode", "serial",
                           "--job", "trivial",
                           "--time-limit", str(args.pypet_time_limit)],
                          timeout=args.pypet_time_limit + 600)
        figures["pypet"] = pypet
        if "error" in pypet:
            print("pypet: could not run: %s" % pypet["error"])
        else:
            print("pypet 0.6.1 serial: %8.1f runs/s (%s runs, finished=%s), %.2f MB per 1000 runs, "
                  "load %s s" % (pypet["runs_per_s"], pypet["runs"], pypet["finished"],
                                 pypet["mb_per_1000_runs"] or float("nan"), pypet.get("load_s")))
            ratios = {"throughput": sweep["runs_per_s"] / pypet["runs_per_s"]}
            if pypet.get("mb_per_1000_runs"):
                ratios["file_size"] = pypet["mb_per_1000_runs"] / sweep["mb_per_1000_runs"]
            if pypet.get("load_s") and pypet.get("runs"):
                per_run_pypet = pypet["load_s"] / pypet["runs"]
                ratios["load_per_run"] = per_run_pypet / (load["load_s"] / load["runs"])
            figures["ratios_vs_pypet"] = ratios
            print("distenv vs pypet: %s" % ", ".join("%s %.0fx" % item for item in ratios.items()))
    print(json.dumps(figures, default=float))


if __name__ == "__main__":
    main()
