"""Local parallelism benchmark (issue 4): full sweeps through the Environment, 2 processes.

(a) Trivial runs (the issue-2 job: store one scalar and a 3-element array), ``pool`` with 2
    processes in the wrap modes QUEUE, LOCAL, LOCK (and NONE, PIPE), against a bare
    ``concurrent.futures.ProcessPoolExecutor.map`` with the best of a few chunksizes, in the same
    run, doing the same job without storage: the job on the trajectory (``execute_run``, the
    trajectory inherited by fork), results dropped. Target: >= 0.5x its throughput. For scale,
    the bare pool doing only the arithmetic and the array, and serial distenv, are printed too.
(b) 500 runs of ~4 ms CPU each: speed-up of ``pool`` (2 processes) over serial distenv.
    Target: >= 1.9.
(c) pypet 0.6.1 on (b)'s sweep (``benchmarks/pypet_sweep.py --mode pool --ncores 2 --job
    cpu4ms``, and ``--mode serial`` for its own speed-up), in the same run.

Every figure is the best of ``--repeats`` rounds in which the contenders take turns (the machine
is shared: each sees the same conditions); the spread (worst) is printed beside it, with the
CPU seconds of all processes of the best round. ``env.run`` is timed end to end (workers'
start, the stores before and after, compaction of the journal).

Usage::

    .venv/bin/python benchmarks/bench_parallel.py               # everything (pypet: ~1 min)
    .venv/bin/python benchmarks/bench_parallel.py --no-pypet --trivial-runs 5000

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
WORK = HERE / "_work" / "parallel"
MODES = ("QUEUE", "LOCAL", "LOCK", "NONE", "PIPE")
NCORES = 2
CPU_JOB_SECONDS = 0.004


# -- the jobs -----------------------------------------------------------------------------------
def trivial_job(traj):
    """The issue-2 job: one scalar and one 3-element array."""
    x, y = traj.x, traj.y
    traj.f_add_result("z", x * y)
    traj.f_add_result("arr", np.array([x, y, x * y]))
    return x * y


def burn(iterations: int) -> int:
    """Pure-Python CPU work (the same loop as pypet_jobs.burn)."""
    acc = 0
    for i in range(iterations):
        acc = (acc + i * i) % 1_000_003
    return acc


def calibrate_burn(target_s: float = CPU_JOB_SECONDS) -> tuple[int, float]:
    """``(iterations, seconds)`` so that :func:`burn` takes ``target_s`` of CPU (median of 20).

    Half a second of the same loop first: a virtual CPU that was idle runs slower until it is
    busy for a while (calibrated on an idle core, the "4 ms" job took 2.7 ms in the sweep).
    """
    warm_until = time.process_time() + 0.5
    while time.process_time() < warm_until:
        burn(10_000)
    iterations = 20_000
    while True:
        start = time.process_time()
        burn(iterations)
        elapsed = time.process_time() - start
        if elapsed > 0.02:
            break
        iterations *= 2
    median = elapsed
    for _ in range(3):
        iterations = max(1, round(iterations * target_s / median))
        samples = []
        for _ in range(20):
            start = time.process_time()
            burn(iterations)
            samples.append(time.process_time() - start)
        median = sorted(samples)[len(samples) // 2]
    return iterations, median


def timed_burn(iterations: int) -> float:
    """:func:`burn`; returns the CPU seconds it took (this thread's clock)."""
    start = time.thread_time()
    burn(iterations)
    return time.thread_time() - start


def cpu_job(traj, iterations):
    """The burn, then the trivial job's results; returns the burn's CPU seconds, so that a
    round can be compared at equal CPU speed (see :func:`equal_speed`)."""
    spent = timed_burn(iterations)
    trivial_job(traj)
    return spent


# -- measuring ----------------------------------------------------------------------------------
def cpu_seconds() -> float:
    """CPU time of this process and of its finished (reaped) children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def interleaved(contenders: dict, repeats: int) -> dict:
    """Run every contender once per round, ``repeats`` rounds, and keep per contender the best
    and worst wall seconds, the CPU seconds (all processes) of its best round, and the same
    for its runs phase (first run started to last run finished: serially without the stores
    before and after the runs; a pool makes its first store inside that phase, beside the
    first runs, so its phase is longer by what that store takes from the cores)."""
    figures = {name: {"walls": [], "phases": [], "best_s": float("inf"),
                      "best_phase_s": float("inf"), "cpu_s": 0.0} for name in contenders}
    for _ in range(repeats):
        for name, function in contenders.items():
            cpu_start = cpu_seconds()
            wall, phase, runs = function()
            entry = figures[name]
            entry["walls"].append(round(wall, 4))
            entry["phases"].append(round(phase, 4))
            entry.setdefault("job_cpus", []).append(runs.get("job_cpu"))
            if phase < entry["best_phase_s"]:
                entry["best_phase_s"], entry["runs_of_best_phase"] = phase, runs
            if wall < entry["best_s"]:
                entry["best_s"], entry["cpu_s"] = wall, cpu_seconds() - cpu_start
    for entry in figures.values():
        entry["worst_s"] = max(entry["walls"])
        entry["worst_phase_s"] = max(entry["phases"])
    return figures


def grid(runs: int) -> dict:
    """``x``, ``y`` explored to exactly ``runs`` runs (``nx`` the largest divisor <= sqrt(runs),
    as pypet_sweep.py does)."""
    from distenv import cartesian_product
    nx = next(d for d in range(math.isqrt(runs), 0, -1) if runs % d == 0)
    return cartesian_product({"x": [float(i) for i in range(nx)],
                              "y": [float(j) for j in range(runs // nx)]})


def make_env(name: str, points: dict, **keywords):
    from distenv import Environment
    env = Environment(trajectory=name, filename=str(WORK / ("%s.hdf5" % name)),
                      overwrite_file=True, report_progress=False, **keywords)
    env.trajectory.f_add_parameter("x", 0.0)
    env.trajectory.f_add_parameter("y", 0.0)
    env.trajectory.f_explore(points)
    return env


def sweep(name: str, points: dict, job, args: tuple = (), job_cpu: bool = False, **keywords):
    """A function that makes the whole sweep once (a fresh Environment and file each time)
    and returns the seconds of ``env.run`` and of its runs phase (``job_cpu``: the job returns
    the CPU seconds of its work, and their sum is kept)."""
    def run() -> tuple[float, float]:
        env = make_env(name, points, **keywords)
        start, epoch = time.perf_counter(), time.time()
        results = env.run(job, *args)
        wall = time.perf_counter() - start
        assert len(results) == len(points["x"]), (name, len(results))
        table = env.trajectory._run_table  # start and finish times of the runs, as stored
        phase = float(np.nanmax(table.finish) - np.nanmin(table.start))
        durations = table.finish - table.start
        before = float(np.nanmin(table.start)) - epoch  # the first store, workers' start
        runs = {"mean_run_ms": float(np.nanmean(durations) * 1e3),  # stretched by contention
                "in_flight": float(np.nansum(durations) / phase),  # mean runs at a time
                "before_s": before, "after_s": wall - phase - before}
        if job_cpu:
            runs["job_cpu"] = math.fsum(value for _, value in results)
        return wall, phase, runs
    return run


# the bare pool's jobs: module level (pickled by reference), the trajectory inherited by fork
_BARE_TRAJECTORY = None


def bare_run(index: int):
    """The job on the trajectory, as distenv's workers make it, but nothing stored."""
    from distenv.environment.worker import RunSpec, execute_run
    return execute_run(_BARE_TRAJECTORY, RunSpec(index, trivial_job)).value


def bare_arithmetic(x: float, y: float):
    return x * y, np.array([x, y, x * y])


def bare_pool(function, iterables, chunksize: int, expected: int):
    def run() -> tuple[float, float]:
        start = time.perf_counter()
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(NCORES, mp_context=context) as executor:
            count = sum(1 for _ in executor.map(function, *iterables, chunksize=chunksize))
        wall = time.perf_counter() - start
        assert count == expected
        return wall, wall, {}
    return run


def rate(runs: int, entry: dict, phase: bool = False) -> float:
    return runs / entry["best_phase_s" if phase else "best_s"]


def show(label: str, runs: int, entry: dict) -> None:
    print("  %-34s %8.0f runs/s end to end (best %.3f s, worst %.3f s, CPU %.2f s);"
          " runs phase %8.0f runs/s (%.3f-%.3f s)"
          % (label, rate(runs, entry), entry["best_s"], entry["worst_s"], entry["cpu_s"],
             rate(runs, entry, True), entry["best_phase_s"], entry["worst_phase_s"]))


# -- the three parts ----------------------------------------------------------------------------
def trivial_part(runs: int, repeats: int) -> dict:
    global _BARE_TRAJECTORY
    from distenv import Trajectory
    points = grid(runs)
    runs = len(points["x"])
    _BARE_TRAJECTORY = Trajectory("bare", filename=str(WORK / "bare.hdf5"))
    _BARE_TRAJECTORY.f_add_parameter("x", 0.0)
    _BARE_TRAJECTORY.f_add_parameter("y", 0.0)
    _BARE_TRAJECTORY.f_explore(points)

    chunksizes = sorted({100, 1000, max(1, runs // (4 * NCORES))})
    contenders = {}
    for chunksize in chunksizes:
        contenders["bare_job_cs%d" % chunksize] = bare_pool(bare_run, [range(runs)], chunksize,
                                                            runs)
    contenders["bare_arithmetic"] = bare_pool(bare_arithmetic, [points["x"], points["y"]],
                                              chunksizes[-1], runs)
    contenders["serial"] = sweep("serial", points, trivial_job)
    for mode in MODES:
        contenders["pool_" + mode] = sweep("pool_" + mode, points, trivial_job, multiproc=True,
                                           ncores=NCORES, use_pool=True, wrap_mode=mode)
    figures = interleaved(contenders, repeats)

    bare_name = min((name for name in figures if name.startswith("bare_job")),
                    key=lambda name: figures[name]["best_s"])
    bare = figures[bare_name]
    best_mode = max(MODES, key=lambda mode: rate(runs, figures["pool_" + mode]))
    print("(a) trivial runs: %d, %d processes, the job stores one scalar and a 3-element array"
          % (runs, NCORES))
    show("bare ProcessPoolExecutor.map, job", runs, bare)
    print("      (chunksize %s of %s, the trajectory inherited by fork, nothing stored)"
          % (bare_name.removeprefix("bare_job_cs"), chunksizes))
    show("bare ProcessPoolExecutor.map, x*y", runs, figures["bare_arithmetic"])
    show("distenv serial", runs, figures["serial"])
    for mode in MODES:
        entry = figures["pool_" + mode]
        show("distenv pool, wrap_mode=%s" % mode, runs, entry)
    ratios = {mode: rate(runs, figures["pool_" + mode]) / rate(runs, bare) for mode in MODES}
    phase_ratios = {mode: rate(runs, figures["pool_" + mode], True) / rate(runs, bare)
                    for mode in MODES}
    print("  pool / bare throughput, end to end: %s; best %s %.2fx (target >= 0.5)"
          % (", ".join("%s %.2fx" % item for item in ratios.items()), best_mode,
             ratios[best_mode]))
    print("  pool / bare throughput, runs phase: %s"
          % ", ".join("%s %.2fx" % item for item in phase_ratios.items()))
    # the same round's best bare pool (over its chunksizes) against each mode: the ratios of
    # bests above divide walls taken at different moments, on CPUs of changing speed
    bare_rounds = [min(walls) for walls in zip(*(figures[name]["walls"] for name in figures
                                                  if name.startswith("bare_job")))]
    round_ratios = {mode: [b / p for b, p in zip(bare_rounds, figures["pool_" + mode]["walls"])]
                    for mode in MODES}
    print("  pool / bare, round by round (the same round's walls), median: %s"
          % ", ".join("%s %.2fx" % (mode, statistics.median(values))
                      for mode, values in round_ratios.items()))
    fixed = {mode: figures["pool_" + mode]["best_s"] - figures["pool_" + mode]["best_phase_s"]
             for mode in MODES}
    print("  outside the runs phase (stores before and after, workers' start and exit): %s; "
          "even a runs phase as fast as the whole bare pool would give %s"
          % (", ".join("%s %.3f s" % item for item in fixed.items()),
             ", ".join("%s %.2fx" % (mode, bare["best_s"] / (bare["best_s"] + fixed[mode]))
                       for mode in MODES)))
    print("  pool %s / bare x*y only: %.3fx; pool %s / distenv serial: %.2fx"
          % (best_mode, rate(runs, figures["pool_" + best_mode]) /
             rate(runs, figures["bare_arithmetic"]), best_mode,
             rate(runs, figures["pool_" + best_mode]) / rate(runs, figures["serial"])))
    return {"runs": runs, "bare_chunksize": int(bare_name.removeprefix("bare_job_cs")),
            "figures": figures, "ratio_vs_bare": ratios, "phase_ratio_vs_bare": phase_ratios,
            "round_ratios_vs_bare": round_ratios,
            "median_round_ratio": max(statistics.median(values)
                                      for values in round_ratios.values()),
            "best_mode": best_mode, "best_ratio": ratios[best_mode],
            "best_phase_ratio": max(phase_ratios.values()),
            "runs_per_s": {name: rate(runs, entry) for name, entry in figures.items()}}


def bare_burns(iterations: int, runs: int, processes: int):
    """The machine's own ceiling: the same burns in a bare loop (``processes=1``) or a bare
    ProcessPoolExecutor.map, no trajectory, nothing stored."""
    def run() -> tuple[float, float, dict]:
        start = time.perf_counter()
        if processes == 1:
            spent = math.fsum(timed_burn(iterations) for _ in range(runs))
        else:
            context = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
                spent = math.fsum(pool.map(timed_burn, [iterations] * runs, chunksize=10))
        wall = time.perf_counter() - start
        return wall, wall, {"job_cpu": spent}
    return run


def cpu_part(runs: int, repeats: int, iterations: int, modes: list[str]) -> dict:
    points = grid(runs)
    runs = len(points["x"])
    contenders = {"bare_serial": bare_burns(iterations, runs, 1),
                  "bare_pool": bare_burns(iterations, runs, NCORES),
                  "serial": sweep("cpu_serial", points, cpu_job, (iterations,), job_cpu=True)}
    for mode in modes:
        contenders["pool_" + mode] = sweep("cpu_pool_" + mode, points, cpu_job, (iterations,),
                                           job_cpu=True, multiproc=True, ncores=NCORES, use_pool=True,
                                           wrap_mode=mode)
    figures = interleaved(contenders, repeats)
    serial = figures["serial"]
    bare = [a / b for a, b in zip(figures["bare_serial"]["walls"], figures["bare_pool"]["walls"])]
    print("(b) %d runs of ~%.1f ms CPU" % (runs, CPU_JOB_SECONDS * 1e3))
    print("  the machine itself: bare ProcessPoolExecutor over a bare loop, the same burns: "
          "speed-up %s per round (median %.2f): the virtual CPUs change speed from one moment to "
          "the next, so compare rounds, not bests" % (", ".join("%.2f" % value for value in bare),
                                                      statistics.median(bare)))
    bare_equal = equal_speed(figures["bare_serial"], figures["bare_pool"])
    print("  at equal CPU speed (each round's walls divided by the CPU seconds its burns took, "
          "see equal_speed): bare speed-up %s per round (median %.2f)"
          % (", ".join("%.2f" % value for value in bare_equal), statistics.median(bare_equal)))
    show("distenv serial", runs, serial)
    per_mode = {}
    for mode in modes:
        pool = figures["pool_" + mode]
        show("distenv pool %s, %d processes" % (mode, NCORES), runs, pool)
        per_mode[mode] = {
            "speedup": serial["best_s"] / pool["best_s"],
            "speedups": [a / b for a, b in zip(serial["walls"], pool["walls"])],
            "phase_speedup": serial["best_phase_s"] / pool["best_phase_s"],
            "phase_speedups": [a / b for a, b in zip(serial["phases"], pool["phases"])],
            "in_flight": pool["runs_of_best_phase"]["in_flight"],
            "mean_run_ms": pool["runs_of_best_phase"]["mean_run_ms"],
            "equal_speed_speedups": equal_speed(serial, pool)}
        per_mode[mode]["median_equal_speed_speedup"] = statistics.median(
            per_mode[mode]["equal_speed_speedups"])
        per_mode[mode]["median_speedup"] = statistics.median(per_mode[mode]["speedups"])
        per_mode[mode]["median_phase_speedup"] = statistics.median(
            per_mode[mode]["phase_speedups"])
    for mode, found in per_mode.items():
        print("  %s: speed-up end to end %.2f, median of rounds %.2f (per round %s); runs phase "
              "%.2f, median %.2f (per round %s; target >= 1.9)"
              % (mode, found["speedup"], found["median_speedup"],
                 ", ".join("%.2f" % value for value in found["speedups"]),
                 found["phase_speedup"], found["median_phase_speedup"],
                 ", ".join("%.2f" % value for value in found["phase_speedups"])))
        print("      at equal CPU speed: median %.2f (per round %s; the bare pool's median %.2f)"
              % (found["median_equal_speed_speedup"],
                 ", ".join("%.2f" % value for value in found["equal_speed_speedups"]),
                 statistics.median(bare_equal)))
        print("      runs at a time %.2f (serial %.2f), mean run %.2f ms (serial %.2f ms; "
              "longer when other processes take the cores)"
              % (found["in_flight"], serial["runs_of_best_phase"]["in_flight"],
                 found["mean_run_ms"], serial["runs_of_best_phase"]["mean_run_ms"]))
    best_mode = max(modes, key=lambda mode: per_mode[mode]["phase_speedup"])
    bounds = design_bounds(serial, figures["pool_" + best_mode])
    print("  the bound of the design (the first store beside the first runs, the last one "
          "after them, one writer): serial %.3f s = first store %.3f s + runs %.3f s + last "
          "store %.3f s; a perfect pool (no start or exit cost) would reach %.2f end to end; "
          "with this pool's time outside its runs (%.3f s) %.2f"
          % (serial["best_s"], bounds["first_store_s"], serial["best_phase_s"],
             bounds["last_store_s"], bounds["perfect_pool"], bounds["pool_fixed_s"],
             bounds["this_pool"]))
    return {"runs": runs, "figures": figures, "modes": per_mode, "best_mode": best_mode,
            "bounds": bounds,
            "bare_speedups": bare, "bare_median_speedup": statistics.median(bare),
            "bare_equal_speed_speedups": bare_equal,
            "bare_median_equal_speed_speedup": statistics.median(bare_equal),
            "speedup": per_mode[best_mode]["speedup"],
            "phase_speedup": per_mode[best_mode]["phase_speedup"],
            "runs_per_s": {name: rate(runs, entry) for name, entry in figures.items()}}


def equal_speed(serial: dict, pool: dict) -> list[float]:
    """Per round, the pool's speed-up over serial at equal CPU speed.

    This machine's virtual CPUs change speed from second to second (the same burn took 4.2 to
    6.9 ms of CPU within a minute, with no steal time), so a serial round and the pool round
    after it may run on CPUs of different speed. Each round's wall time is divided by the CPU
    seconds its burns took (measured inside the job, :func:`timed_burn`): ``(serial wall /
    serial burn CPU) / (pool wall / pool burn CPU)``. A slower CPU lengthens both the wall and
    the burn CPU, so it cancels; anything else stays in: the pool's start, stores, exit,
    idle workers, and CPU the main process takes from the workers (which lengthens the wall,
    not the burns' CPU). A bare pool measured the same way shows what the machine gives."""
    return [(serial_wall / serial_cpu) / (pool_wall / pool_cpu)
            for serial_wall, serial_cpu, pool_wall, pool_cpu
            in zip(serial["walls"], serial["job_cpus"], pool["walls"], pool["job_cpus"])]


def design_bounds(serial: dict, pool: dict) -> dict:
    """The end-to-end speed-up a pool could reach at most. Serial: ``first store + runs +
    last store``. A pool makes the first store while its workers make the first runs (session
    4), so both share the cores: ``(runs + first store) / cores``; the last store compacts
    what the runs wrote, after them, in one process. ``this_pool`` takes this pool's own time
    outside its runs phase (workers' start and exit, the last store) instead."""
    timing = serial["runs_of_best_phase"]
    first, last = timing["before_s"], timing["after_s"]
    shared = (serial["best_phase_s"] + first) / NCORES
    pool_fixed = pool["best_s"] - pool["best_phase_s"]
    return {"stores_s": first + last, "first_store_s": first, "last_store_s": last,
            "pool_fixed_s": pool_fixed,
            "perfect_pool": serial["best_s"] / (shared + last),
            "this_pool": serial["best_s"] / (shared + pool_fixed)}


def pypet_part(runs: int, distenv_cpu: dict, time_limit: float) -> dict:
    from pypet_common import run_pypet
    found = {}
    for mode in ("pool", "serial"):
        found[mode] = run_pypet(["pypet_sweep.py", "--runs", str(runs), "--mode", mode,
                                 "--ncores", str(NCORES), "--job", "cpu4ms",
                                 "--time-limit", str(time_limit)], timeout=time_limit + 600)
    print("(c) pypet 0.6.1, the same %d runs of ~4 ms CPU (pool: freeze_input, QUEUE)" % runs)
    for mode, result in found.items():
        if "error" in result:
            print("  pypet %s: could not run: %s" % (mode, result["error"]))
            tail = result.get("stderr_tail")
            if tail:
                print("    " + str(tail)[-400:].replace("\n", "\n    "))
        else:
            print("  pypet %-6s %9.1f runs/s (%.2f s, finished=%s, %.1f ms CPU per run)"
                  % (mode, result["runs_per_s"], result["wall_s"], result["finished"],
                     result.get("cpu_ms_per_run") or float("nan")))
    summary = {"pypet": found}
    pool, serial = found["pool"], found["serial"]
    if "error" not in pool:
        summary["distenv_pool_vs_pypet_pool"] = \
            distenv_cpu["runs_per_s"]["pool_" + distenv_cpu["best_mode"]] / pool["runs_per_s"]
        print("  distenv pool / pypet pool throughput: %.1fx"
              % summary["distenv_pool_vs_pypet_pool"])
        if "error" not in serial:
            summary["pypet_speedup"] = pool["runs_per_s"] / serial["runs_per_s"]
            print("  pypet's own speed-up, pool over serial: %.2f (distenv: %.2f)"
                  % (summary["pypet_speedup"], distenv_cpu["speedup"]))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trivial-runs", type=int, default=20000)
    parser.add_argument("--cpu-runs", type=int, default=500)
    parser.add_argument("--cpu-modes", default="QUEUE,LOCK,NONE",
                        help="comma-separated wrap modes of the pool in (b)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pypet", action="store_true")
    parser.add_argument("--pypet-time-limit", type=float, default=300)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    load_before = os.getloadavg()[0]
    print("machine: %d CPUs, 1-minute load average %.1f" % (os.cpu_count(), load_before))
    summary = {"machine_cores": os.cpu_count(), "ncores": NCORES}
    summary["trivial"] = trivial_part(args.trivial_runs, args.repeats)
    iterations, measured = calibrate_burn()  # right before the part that uses it
    print("burn(%d) = %.2f ms CPU" % (iterations, measured * 1e3))
    summary["cpu_job_ms"] = measured * 1e3
    summary["cpu"] = cpu_part(args.cpu_runs, args.repeats, iterations,
                              args.cpu_modes.split(","))
    if not args.no_pypet:
        summary["pypet"] = pypet_part(args.cpu_runs, summary["cpu"], args.pypet_time_limit)
    summary["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    modes = summary["cpu"]["modes"]
    best_equal_mode = max(modes, key=lambda mode: modes[mode]["median_equal_speed_speedup"])
    best_equal = modes[best_equal_mode]
    summary["targets"] = {"trivial_ratio": round(summary["trivial"]["best_ratio"], 3),
                          "trivial_phase_ratio": round(summary["trivial"]["best_phase_ratio"], 3),
                          "trivial_ratio_met": summary["trivial"]["best_ratio"] >= 0.5,
                          "trivial_median_round_ratio": round(
                              summary["trivial"]["median_round_ratio"], 3),
                          "speedup": round(summary["cpu"]["speedup"], 3),
                          "phase_speedup": round(summary["cpu"]["phase_speedup"], 3),
                          "speedup_met": summary["cpu"]["speedup"] >= 1.9,
                          "median_equal_speed_speedup": round(
                              best_equal["median_equal_speed_speedup"], 3),
                          "equal_speed_mode": best_equal_mode,
                          "equal_speed_speedup_met":
                              best_equal["median_equal_speed_speedup"] >= 1.9}
    print("load average %.1f before, %.1f after (on %d CPUs)"
          % (load_before, summary["load_average"][1], os.cpu_count()))
    shutil.rmtree(WORK, ignore_errors=True)
    print(json.dumps(summary, default=float))


if __name__ == "__main__":
    main()
