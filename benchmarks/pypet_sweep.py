"""The reference sweep, measured with pypet 0.6.1 (run with the pypet venv's python).

A trajectory with parameters ``x`` and ``y`` is explored by ``cartesian_product`` to N runs;
each run stores ``z = x*y`` and ``arr = [x, y, x*y]`` (``--job cpu4ms`` first burns ~4 ms of
calibrated pure-Python CPU). Measured:

* wall time and runs/s of ``env.run`` (Environment creation and exploration excluded);
* HDF5 file size, in MB and MB per 1000 runs;
* loading: ``load_trajectory(load_all=2)`` in a fresh process, then every run's ``z`` and
  ``arr`` via ``f_get_from_runs(..., fast_access=True)``.

The sweep runs in a child process that is SIGKILLed, with its pool workers, after
``--time-limit`` seconds of ``env.run``; the runs finished by then are counted from pypet's
own progress log (1 % steps). Human-readable lines first, then one JSON object as the last
line.

    python benchmarks/pypet_sweep.py --runs 1000
    python benchmarks/pypet_sweep.py --runs 1000 --mode pool --ncores 2 --job cpu4ms
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from pypet_common import (BENCH_DIR, ChildResult, emit_event, exit_on_sigterm, run_child,
                          scratch_dir)

MB = 1e6
HDF5_NAME = "pypet_sweep.hdf5"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="number of runs (default 1000)")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds env.run may take before it is killed and the "
                             "progress so far is reported (default 300)")
    parser.add_argument("--mode", choices=["serial", "pool"], default="serial")
    parser.add_argument("--ncores", type=int, default=2, help="pool processes (pool mode)")
    parser.add_argument("--wrap-mode", choices=["QUEUE", "LOCK"], default="QUEUE",
                        help="pypet's wrap_mode in pool mode (default QUEUE, as in pypet's "
                             "multiprocessing example)")
    parser.add_argument("--job", choices=["trivial", "cpu4ms"], default="trivial")
    parser.add_argument("--workdir", type=Path, default=BENCH_DIR / "_work",
                        help="a folder sweep-PID/ is made in it for the HDF5 file and "
                             "pypet's logs/ (default benchmarks/_work)")
    parser.add_argument("--keep", action="store_true", help="keep the HDF5 file and logs")
    parser.add_argument("--phase", choices=["sweep", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--rundir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.mode == "serial":
        args.ncores = 1
    return args


# --- child side -----------------------------------------------------------------------------

def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its reaped children (pool workers,
    pypet's queue process): less sensitive to other load on the machine than wall time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def sweep_phase(args: argparse.Namespace, filename: Path) -> None:
    """Child: build the Environment, then time ``env.run`` and report events."""
    import pypet_jobs as jobs  # pypet is imported in the child only

    run_args: tuple = ()
    job = jobs.job_trivial
    if args.job == "cpu4ms":
        iterations, seconds = jobs.calibrate_burn(0.004)
        emit_event("calibrated", iterations=iterations, ms=seconds * 1e3)
        job, run_args = jobs.job_cpu, (iterations,)
    env = jobs.make_environment(filename, args.runs, args.mode, args.ncores, args.wrap_mode)
    emit_event("run_start")
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    env.run(job, *run_args)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    emit_event("run_done", wall_s=wall, cpu_s=cpu)
    env.disable_logging()


# --- parent side ----------------------------------------------------------------------------

def child_cmd(args: argparse.Namespace, phase: str, rundir: Path) -> list[str]:
    """This script again, with the same options, as the child of ``phase``."""
    return [sys.executable, str(Path(__file__).resolve()), *args.argv,
            "--phase", phase, "--rundir", str(rundir)]


def failure_note(res: ChildResult, stderr_path: Path) -> str:
    """A one-line reason for a child that exited without finishing."""
    lines = stderr_path.read_text(errors="replace").strip().splitlines()
    last = lines[-1] if lines else "(no stderr)"
    return f"child exited with code {res.returncode}: {last}"


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    """Run the sweep and the load phase in child processes in ``workdir``; the figures."""
    filename = workdir / HDF5_NAME
    sweep_log = workdir / "sweep.stderr.log"

    import pypet_jobs  # for the version only; the measurement happens in the children

    out = {"tool": "pypet", "version": pypet_jobs.PYPET_VERSION, "runs": args.runs,
           "mode": args.mode, "ncores": args.ncores, "job": args.job,
           "wrap_mode": args.wrap_mode if args.mode == "pool" else None,
           "time_limit_s": args.time_limit, "wall_s": None, "runs_per_s": None,
           "finished": False, "runs_done": 0, "file_mb": None, "mb_per_1000_runs": None,
           "load_s": None, "status": ""}

    res = run_child(child_cmd(args, "sweep", workdir), args.time_limit, clock_event="run_start",
                    stderr_path=sweep_log, cwd=workdir)
    if (cal := res.event("calibrated")) is not None:
        out["cpu_job_ms"] = round(cal["ms"], 3)
    start, done = res.event("run_start"), res.event("run_done")
    if filename.exists():
        out["file_mb"] = round(filename.stat().st_size / MB, 3)
    if done is not None:
        out.update(finished=True, runs_done=args.runs, wall_s=round(done["wall_s"], 3),
                   runs_per_s=round(args.runs / done["wall_s"], 2), status="finished",
                   cpu_s=round(done["cpu_s"], 3),
                   cpu_ms_per_run=round(done["cpu_s"] / args.runs * 1e3, 3))
        out["mb_per_1000_runs"] = round(out["file_mb"] / args.runs * 1000, 3)
    elif start is not None:
        end = res.killed_at or (start["t"] + res.elapsed_s)
        elapsed = end - start["t"]
        n = pypet_jobs.runs_from_progress(sweep_log)
        out.update(runs_done=n, wall_s=round(elapsed, 3),
                   runs_per_s=round(n / elapsed, 2) if elapsed > 0 else None)
        out["status"] = (f"did not finish in {args.time_limit:g} s" if res.timed_out
                         else failure_note(res, sweep_log))
    else:
        out["status"] = ("setup did not finish" if res.timed_out
                         else failure_note(res, sweep_log))

    if out["finished"]:
        load = run_child(child_cmd(args, "load", workdir), args.time_limit,
                         stderr_path=workdir / "load.stderr.log", cwd=workdir)
        if (ev := load.event("loaded")) is not None:
            out["load_s"] = round(ev["load_s"], 3)
            out["load_check"] = {k: ev[k] for k in ("runs_in_file", "z_found", "arr_found",
                                                    "values_ok")}
        elif (ev := load.event("load_failed")) is not None:
            out["load_error"] = ev["error"]
        else:
            out["load_error"] = (f"did not load in {args.time_limit:g} s" if load.timed_out
                                 else f"load child exited with code {load.returncode}")
    return out


def report(out: dict) -> None:
    """Human-readable lines, then the JSON object as the last line."""
    what = f"pypet {out['version']}: {out['runs']} runs, {out['mode']}"
    if out["mode"] == "pool":
        what += f" ({out['ncores']} processes, wrap_mode={out['wrap_mode']})"
    what += f", job {out['job']}"
    if "cpu_job_ms" in out:
        what += f" ({out['cpu_job_ms']:.2f} ms CPU per run)"
    print(what)
    if out["finished"]:
        print(f"  env.run:   {out['wall_s']:.2f} s  ->  {out['runs_per_s']:.1f} runs/s  "
              f"(CPU {out['cpu_s']:.2f} s = {out['cpu_ms_per_run']:.2f} ms per run)")
        print(f"  HDF5 file: {out['file_mb']:.2f} MB  ({out['mb_per_1000_runs']:.2f} MB per "
              f"1000 runs)")
    else:
        print(f"  {out['status']}: {out['runs_done']} of {out['runs']} runs finished in "
              f"{out['wall_s']} s  ->  {out['runs_per_s']} runs/s so far")
    if out["load_s"] is not None:
        print(f"  loading all results: {out['load_s']:.2f} s  ({out['load_check']})")
    elif "load_error" in out:
        print(f"  loading: {out['load_error']}")
    print(json.dumps(out))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    filename = args.rundir / HDF5_NAME if args.rundir else None
    if args.phase == "sweep":
        sweep_phase(args, filename)
    elif args.phase == "load":
        import pypet_jobs
        pypet_jobs.load_phase(filename)
    else:
        exit_on_sigterm()
        with scratch_dir(args.workdir, "sweep", keep=args.keep) as workdir:
            out = measure(args, workdir)
        report(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
