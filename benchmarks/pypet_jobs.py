"""pypet-side pieces shared by ``pypet_sweep.py`` and ``pypet_failures.py``.

Runs only in the pypet venv (``benchmarks/pypet_venv.sh``); never imports distenv.
It holds the reference sweep's definition (parameters, exploration, jobs), how the
Environment is built for each mode, the CPU-burn calibration, and the loading measurement.
"""

from __future__ import annotations

import math
import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pypet
from pypet import Environment, cartesian_product, load_trajectory

from pypet_common import emit_event

PYPET_VERSION = pypet.__version__
TRAJ_NAME = "bench"
# pypet's report_progress step, in percent of all runs; the parent counts finished runs
# from these log lines when it has to kill a sweep.
PROGRESS_PERCENT = 1


# --- the work of one run ----------------------------------------------------------------

def burn(iterations: int) -> int:
    """Pure-Python CPU work: about 4 ms at the calibrated iteration count."""
    acc = 0
    for i in range(iterations):
        acc = (acc + i * i) % 1_000_003
    return acc


def calibrate_burn(target_s: float = 0.004) -> tuple[int, float]:
    """Return ``(iterations, measured_seconds)`` so that :func:`burn` takes ``target_s``.

    Measured in CPU time of this process, so that other load on the machine does not
    shrink the job.
    """
    iterations = 20_000
    while True:  # grow until one call takes long enough to time reliably
        t0 = time.process_time()
        burn(iterations)
        elapsed = time.process_time() - t0
        if elapsed > 0.02:
            break
        iterations *= 2
    median = elapsed
    for _ in range(3):  # rescale to the target, then re-measure the median of 20 calls
        iterations = max(1, round(iterations * target_s / median))
        samples = []
        for _ in range(20):
            t0 = time.process_time()
            burn(iterations)
            samples.append(time.process_time() - t0)
        median = sorted(samples)[len(samples) // 2]
    return iterations, median


def store_results(traj) -> None:
    """The reference results of a run: one scalar and one 3-element array."""
    x, y = traj.x, traj.y
    traj.f_add_result("z", x * y)
    traj.f_add_result("arr", np.array([x, y, x * y]))


def job_trivial(traj) -> None:
    """The trivial job: only store the results (measures pure framework overhead)."""
    store_results(traj)


def job_cpu(traj, iterations: int) -> None:
    """Burn calibrated CPU (~4 ms), then store the results."""
    burn(iterations)
    store_results(traj)


def job_raise(traj, bad_index: int, seconds: float = 0.0) -> None:
    """Sleep ``seconds``, store the results, except in run ``bad_index``, which raises."""
    time.sleep(seconds)
    if traj.v_idx == bad_index:
        raise RuntimeError(f"deliberate failure in run {bad_index}")
    store_results(traj)


def job_sigkill(traj, bad_index: int, seconds: float = 0.0) -> None:
    """Sleep ``seconds``, store the results, except in run ``bad_index``, whose process
    SIGKILLs itself (as the OOM killer or a lost node would)."""
    time.sleep(seconds)
    if traj.v_idx == bad_index:
        os.kill(os.getpid(), signal.SIGKILL)
    store_results(traj)


# --- the sweep ----------------------------------------------------------------------------

def grid_shape(runs: int) -> tuple[int, int]:
    """Split ``runs`` into ``nx * ny`` with ``nx`` the largest divisor <= sqrt(runs)."""
    nx = next(d for d in range(math.isqrt(runs), 0, -1) if runs % d == 0)
    return nx, runs // nx


def make_environment(filename: Path, runs: int, mode: str, ncores: int,
                     wrap_mode: str) -> Environment:
    """An Environment whose trajectory has ``x``, ``y`` explored to ``runs`` runs.

    Everything else is pypet's default (logging to ``logs/`` and stderr included), except
    progress reports every ``PROGRESS_PERCENT`` percent, which the parent reads to count
    finished runs. Pool mode is configured like pypet's own multiprocessing example
    (example_04): ``multiproc=True, use_pool=True, freeze_input=True, wrap_mode=QUEUE``.
    """
    kwargs = {}
    if mode == "pool":
        kwargs = dict(multiproc=True, ncores=ncores, use_pool=True, freeze_input=True,
                      wrap_mode=wrap_mode)
    env = Environment(trajectory=TRAJ_NAME, filename=str(filename), overwrite_file=True,
                      report_progress=(PROGRESS_PERCENT, "pypet", 20), **kwargs)
    traj = env.trajectory
    traj.f_add_parameter("x", 1.0, comment="first factor")
    traj.f_add_parameter("y", 1.0, comment="second factor")
    nx, ny = grid_shape(runs)
    traj.f_explore(cartesian_product({"x": [float(i) for i in range(nx)],
                                      "y": [float(j) for j in range(ny)]}))
    return env


def runs_from_progress(stderr_path: Path) -> int:
    """Runs finished so far: the last 'PROGRESS: Finished n/N runs' in pypet's log, or 0."""
    if not stderr_path.exists():
        return 0
    matches = re.findall(rb"PROGRESS: Finished\s+(\d+)/\d+ runs", stderr_path.read_bytes())
    return int(matches[-1]) if matches else 0


def load_results(filename: Path) -> dict:
    """Load the whole trajectory in a fresh object and read every run's ``z`` and ``arr``.

    Returns ``load_s`` (load_trajectory with all data + reading both results of every run)
    and how many runs each result was found for, plus a spot check of the values.
    """
    t0 = time.perf_counter()
    traj = load_trajectory(name=TRAJ_NAME, filename=str(filename), load_all=2)
    z = traj.f_get_from_runs("z", fast_access=True, use_indices=True)
    arr = traj.f_get_from_runs("arr", fast_access=True, use_indices=True)
    load_s = time.perf_counter() - t0
    ok = all(float(arr[i][2]) == float(z[i]) for i in list(z)[:100] if i in arr)
    return {"load_s": load_s, "runs_in_file": len(traj), "z_found": len(z),
            "arr_found": len(arr), "values_ok": ok}


def load_phase(filename: Path) -> None:
    """Child-process entry point: measure :func:`load_results` and report it as an event."""
    try:
        emit_event("loaded", **load_results(filename))
    except Exception as exc:  # report, don't crash: a broken file is a finding too
        emit_event("load_failed", error=f"{type(exc).__name__}: {exc}")
