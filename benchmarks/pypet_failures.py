"""What pypet 0.6.1 does when a pool worker fails (run with the pypet venv's python).

Two scenarios, each a pool-mode sweep (``multiproc=True, use_pool=True, freeze_input=True``,
``wrap_mode=QUEUE`` by default) in a child process with a time limit (default 90 s):

* ``raise``:   the job raises ``RuntimeError`` in one run (inside a pool worker);
* ``sigkill``: the pool worker executing one run is SIGKILLed (it kills itself, as the
  kernel's OOM killer or a node failure would).

For each: did ``env.run`` return, raise, or hang (then the child and all its processes are
SIGKILLed at the limit), how many runs pypet reported finished, and how many runs' results
can be loaded from the HDF5 file afterwards. Human-readable lines, then one JSON object as
the last line.

    python benchmarks/pypet_failures.py                 # both scenarios, 90 s each
    python benchmarks/pypet_failures.py --scenario raise --time-limit 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pypet_common import BENCH_DIR, emit_event, exit_on_sigterm, run_child, scratch_dir

SCENARIOS = ("raise", "sigkill")
HDF5_NAME = "pypet_failure.hdf5"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--runs", type=int, default=200, help="runs per sweep (default 200)")
    parser.add_argument("--bad-run", type=int, default=20,
                        help="index of the failing run (default 20)")
    parser.add_argument("--run-seconds", type=float, default=0.0,
                        help="each run first sleeps this long (default 0: trivial runs)")
    parser.add_argument("--ncores", type=int, default=2, help="pool processes (default 2)")
    parser.add_argument("--wrap-mode", choices=["QUEUE", "LOCK"], default="QUEUE")
    parser.add_argument("--time-limit", type=float, default=90.0,
                        help="seconds before a sweep counts as hung (default 90)")
    parser.add_argument("--workdir", type=Path, default=BENCH_DIR / "_work",
                        help="a folder failures-PID/ is made in it (default benchmarks/_work)")
    parser.add_argument("--keep", action="store_true", help="keep HDF5 files and logs")
    parser.add_argument("--phase", choices=[*SCENARIOS, "load"], help=argparse.SUPPRESS)
    parser.add_argument("--rundir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- child side -----------------------------------------------------------------------------

def scenario_phase(args: argparse.Namespace) -> None:
    """Child: run the failing sweep and report whether ``env.run`` returned or raised."""
    import pypet_jobs as jobs

    job = {"raise": jobs.job_raise, "sigkill": jobs.job_sigkill}[args.phase]
    env = jobs.make_environment(args.rundir / HDF5_NAME, args.runs, "pool", args.ncores,
                                args.wrap_mode)
    emit_event("run_start")
    try:
        env.run(job, args.bad_run, args.run_seconds)
    except BaseException as exc:
        emit_event("run_raised", error=f"{type(exc).__name__}: {exc}"[:300])
        raise
    emit_event("run_returned")
    env.disable_logging()


# --- parent side ----------------------------------------------------------------------------

def last_main_log_line(log: Path) -> str:
    """The main process's last pypet log line: where a hung sweep was stuck."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()
             if line.startswith("MainProcess")]
    return lines[-1] if lines else ""


def run_scenario(args: argparse.Namespace, scenario: str, workdir: Path) -> dict:
    """Run one scenario in a child process and describe what happened."""
    import pypet_jobs as jobs

    rundir = workdir / scenario
    rundir.mkdir(parents=True)
    log = rundir / "stderr.log"
    script = [sys.executable, str(Path(__file__).resolve())]
    common = ["--runs", str(args.runs), "--bad-run", str(args.bad_run),
              "--run-seconds", str(args.run_seconds), "--ncores",
              str(args.ncores), "--wrap-mode", args.wrap_mode, "--rundir", str(rundir)]
    res = run_child([*script, *common, "--phase", scenario], args.time_limit,
                    clock_event="run_start", stderr_path=log, cwd=rundir)
    start, raised = res.event("run_start"), res.event("run_raised")
    returned = res.event("run_returned")
    out = {"scenario": scenario, "hung": res.timed_out, "exit_code": res.returncode,
           "runs_reported_finished": jobs.runs_from_progress(log)}
    if start is None:
        out["outcome"] = "sweep did not start"
    elif returned is not None or raised is not None:
        ev = returned or raised
        after = ev["t"] - start["t"]
        what = ("env.run returned" if returned else f"env.run raised {raised['error']}")
        out["env_run_s"] = round(after, 2)
        out["outcome"] = f"{what} after {after:.1f} s"
        if res.timed_out:
            out["outcome"] += f", then the process hung > {args.time_limit:g} s"
        else:
            out["outcome"] += f"; process exited with code {res.returncode}"
    elif res.timed_out:
        out["outcome"] = (f"hung > {args.time_limit:g} s: env.run neither returned nor "
                          f"raised (killed)")
        out["last_log_line"] = last_main_log_line(log)
    else:
        out["outcome"] = f"process died with code {res.returncode} inside env.run"

    load = run_child([*script, *common, "--phase", "load"], 120.0,
                     stderr_path=rundir / "load.stderr.log", cwd=rundir)
    if (ev := load.event("loaded")) is not None:
        out["z_readable"] = ev["z_found"]
        out["file_after"] = f"{ev['z_found']} of {args.runs} runs' results readable"
    else:
        err = load.event("load_failed")
        out["z_readable"] = 0
        out["file_after"] = ("not loadable: " + err["error"] if err
                             else "loading did not finish" if load.timed_out
                             else f"load child exited with code {load.returncode}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase == "load":
        import pypet_jobs
        pypet_jobs.load_phase(args.rundir / HDF5_NAME)
        return 0
    if args.phase:
        scenario_phase(args)
        return 0

    import pypet_jobs
    exit_on_sigterm()
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    print(f"pypet {pypet_jobs.PYPET_VERSION}: pool of {args.ncores}, wrap_mode="
          f"{args.wrap_mode}, {args.runs} runs, run #{args.bad_run} fails, "
          f"limit {args.time_limit:g} s")
    results = {}
    with scratch_dir(args.workdir, "failures", keep=args.keep) as workdir:
        for scenario in scenarios:
            t0 = time.monotonic()
            r = results[scenario] = run_scenario(args, scenario, workdir)
            print(f"  {scenario:8s} {r['outcome']}; pypet reported "
                  f"{r['runs_reported_finished']} runs finished; file: {r['file_after']}  "
                  f"[{time.monotonic() - t0:.0f} s]", flush=True)
            if r.get("last_log_line"):
                print(f"           last log line of the main process: {r['last_log_line']}")
    print(json.dumps({"tool": "pypet", "version": pypet_jobs.PYPET_VERSION,
                      "ncores": args.ncores, "wrap_mode": args.wrap_mode, "runs": args.runs,
                      "bad_run": args.bad_run, "time_limit_s": args.time_limit,
                      "scenarios": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
